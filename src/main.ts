// Entry point: `npm start`. Reads config once, starts the service, and shuts
// down in order on SIGTERM/SIGINT (exit 0). Configuration errors exit 1 with one
// line naming the variable, never a stack trace. Signal handlers are installed
// before anything starts, so a signal during startup still ends in an orderly
// shutdown (and never leaves an embedded PostgreSQL behind); a second signal
// during shutdown exits at once.
import { configOrExit, loadConfig } from './config.ts';
import { onVersionMismatch } from './db/version-guard.ts';
import { createLogger } from './http/request-log.ts';
import { type RunningService, startService } from './server.ts';

const config = configOrExit(loadConfig, process.env);

const logger = createLogger(config.logLevel);
let service: RunningService | undefined;
let signalled: string | undefined;

async function shutdown(exitCode = 0): Promise<void> {
  logger.info({ signal: signalled }, 'shutting down');
  try {
    await service?.close();
  } catch (err) {
    logger.error({ err: { message: (err as Error).message } }, 'shutdown failed');
    process.exit(1);
  }
  logger.info('stopped');
  process.exit(exitCode);
}

function onSignal(signal: string): void {
  if (signalled) {
    logger.warn({ signal }, 'second signal: exiting without waiting');
    process.exit(1);
  }
  signalled = signal;
  // During startup the shutdown runs once startService has returned.
  if (service) void shutdown();
}
// A newer release migrated the database (pg-boss's schema or ours) under this replica
// (src/db/version-guard.ts): it writes nothing more; log the one line naming both
// versions and stop (exit 1).
onVersionMismatch((message) => {
  if (signalled) return;
  signalled = 'version-mismatch';
  logger.fatal(message);
  if (service) void shutdown(1);
});
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);
// Token rotation without downtime: edit API_TOKENS_FILE, then `kill -HUP <pid>`.
process.on('SIGHUP', () => service?.auth.reload());

try {
  service = await startService(config, logger);
} catch (err) {
  logger.fatal({ err: { message: (err as Error).message } }, 'failed to start');
  process.exit(1);
}
if (signalled) await shutdown(signalled === 'version-mismatch' ? 1 : 0);
