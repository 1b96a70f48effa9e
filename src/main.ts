// Entry point: `npm start`. Reads config once, starts the service, and shuts
// down in order on SIGTERM/SIGINT (exit 0). Configuration errors exit 1 with one
// line naming the variable, never a stack trace.
import { ConfigError, loadConfig } from './config.ts';
import { createLogger } from './http/request-log.ts';
import { startService } from './server.ts';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  throw err;
}

const logger = createLogger(config.logLevel);
try {
  const service = await startService(config, logger);
  let signalled = false;
  const shutdown = async (signal: string) => {
    if (signalled) return;
    signalled = true;
    logger.info({ signal }, 'shutting down');
    await service.close();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // Token rotation without downtime: edit API_TOKENS_FILE, then `kill -HUP <pid>`.
  process.on('SIGHUP', () => service.auth.reload());
} catch (err) {
  logger.fatal({ err: { message: (err as Error).message } }, 'failed to start');
  process.exit(1);
}
