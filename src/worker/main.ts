// Entry point: `npm run worker`. Reads the worker's config once, claims and runs
// jobs until SIGTERM/SIGINT, then shuts down in order and exits 0 (a second
// signal skips the grace period). Configuration errors exit 1 with one line
// naming the variable.
import pino from 'pino';
import { configOrExit } from '../config.ts';
import { createClient } from '../client/index.ts';
import { createLogger } from '../http/request-log.ts';
import { redactUrl } from '../lib/units.ts';
import { loadWorkerConfig, type WorkerConfig } from './config.ts';
import { startTracing } from '../tracing/tracing.ts';
import { Worker } from './worker.ts';

const config: WorkerConfig = configOrExit(loadWorkerConfig, process.env);

// Synchronous writes: the job lines must reach stdout even when we exit right after.
const logger = createLogger(config.logLevel, pino.destination({ dest: 1, sync: true }));
const client = createClient({ baseUrl: config.serviceUrl, token: config.serviceToken });
const tracing = await startTracing(config.tracing, logger);
const worker = new Worker(config, client, logger, tracing);

let stopping: Promise<void> | undefined;
const onSignal = (signal: string) => {
  if (stopping) {
    logger.warn({ signal }, 'second signal: handing running jobs back now');
    void worker.shutdown(true);
    return;
  }
  logger.info({ signal, jobs: worker.inFlight }, 'stopping: no new claims');
  stopping = worker.shutdown().then(async () => {
    await tracing.shutdown();
    logger.info('stopped');
    process.exit(0);
  });
};
process.on('SIGTERM', () => onSignal('SIGTERM'));
process.on('SIGINT', () => onSignal('SIGINT'));

// Handlers first, then the log line tests and operators wait for: a signal can never
// meet a worker that would die without handing its jobs back.
logger.info(
  {
    worker_id: config.workerId,
    service: redactUrl(config.serviceUrl),
    task_types: config.taskTypes ?? 'all',
    lease_seconds: config.leaseSeconds,
    lanes: config.lanes.map((l) => ({ profile: l.profile, executor: l.executor.name, concurrency: l.concurrency, ...l.executor.summary })),
    circuit: config.circuit,
  },
  'worker started',
);
worker.start().catch((err) => {
  logger.fatal({ err }, 'could not start the worker health server');
  process.exit(1);
});
