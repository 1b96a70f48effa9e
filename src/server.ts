// The composition root: database (given or embedded), migrations, pg-boss, the
// HTTP app, the leader's periodic tasks, and an orderly shutdown.
import type { Server } from 'node:http';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { type AccessControl, createAccessControl } from './auth/access.ts';
import type { Config } from './config.ts';
import { type Database, openDatabase } from './db/database.ts';
import { migrate } from './db/migrate.ts';
import { ListenConnection } from './db/listen.ts';
import { createPool, type Pool, SERVICE_APPLICATION_NAME } from './db/pool.ts';
import { createApp } from './http/app.ts';
import { apiWhenReady, healthRoutes, type Readiness } from './http/health.ts';
import { closeHttp, listenHttp, serverUrl } from './http/listen.ts';
import { JobService } from './jobs/service.ts';
import { Purger } from './retention/purge.ts';
import { jobRoutes } from './jobs/routes.ts';
import { createMetrics } from './metrics/metrics.ts';
import { metricsRoutes } from './metrics/routes.ts';
import { metricsJobEvents } from './jobs/metrics.ts';
import { registerQueueGauges } from './stats/metrics.ts';
import { metricsWebhookEvents } from './webhooks/metrics.ts';
import { providerRoutes } from './providers/routes.ts';
import { ProviderStatusService } from './providers/status.ts';
import { QueueRegistry } from './pgboss/boss.ts';
import { Leader } from './leader/leader.ts';
import { maintenanceTasks } from './leader/tasks.ts';
import { Waiters } from './jobs/waiters.ts';
import { PolicyCache } from './policies/cache.ts';
import { policyRoutes } from './policies/routes.ts';
import { PolicyService } from './policies/service.ts';
import { JobEventHub } from './jobs/event-hub.ts';
import { statsRoutes } from './stats/routes.ts';
import { StatsService } from './stats/service.ts';
import { openReadinessGate, stopBoss } from './readiness.ts';
import { uiRoutes } from './ui/routes.ts';
import { ensureWebhookQueue, WebhookDeliverer } from './webhooks/deliverer.ts';
import { startTracing } from './tracing/tracing.ts';

export interface ServiceOptions {
  /** Validate responses against openapi.yaml (tests). */
  validateResponses?: boolean;
}

export interface RunningService {
  app: Express;
  server: Server | undefined;
  pool: Pool;
  databaseUrl: string;
  url: string;
  jobs: JobService;
  /** Creates pg-boss queues on first use (tests' job factory creates its queues through it). */
  queues: QueueRegistry;
  leader: Leader;
  /** Access control; `auth.reload()` re-reads API_TOKENS_FILE (main.ts calls it on SIGHUP). */
  auth: AccessControl;
  close(): Promise<void>;
}

export async function startService(config: Config, logger: Logger, options: ServiceOptions = {}, listen = true): Promise<RunningService> {
  // First, so a production start without tokens is refused before anything else starts.
  const auth = createAccessControl(config, logger);
  const database = await openDatabase(config.db, logger);
  // DATABASE_URL may be a transaction-mode pooler when DATABASE_DIRECT_URL names a direct connection.
  const pool = createPool(database.url, config.db, SERVICE_APPLICATION_NAME, {
    pooled: config.db.directUrl !== undefined,
    preparedStatements: config.db.preparedStatements,
  });
  try {
    return await startOnDatabase({ database, pool, auth }, config, logger, options, listen);
  } catch (err) {
    // A failed start (migration error, port in use) leaves no server or connections behind.
    await pool.end().catch(() => {});
    await database.embedded?.stop();
    throw err;
  }
}

/**
 * A transaction-mode pooler refuses timeouts as startup parameters, so they must come from
 * the role (ALTER ROLE … SET statement_timeout, idle_in_transaction_session_timeout).
 */
async function checkPooledTimeouts(pool: Pool, logger: Logger): Promise<void> {
  const { rows } = await pool.query(
    `SELECT current_setting('statement_timeout') AS statement, current_setting('idle_in_transaction_session_timeout') AS idle`,
  );
  if (rows[0].statement === '0' || rows[0].idle === '0') {
    logger.warn(
      { statement_timeout: rows[0].statement, idle_in_transaction_session_timeout: rows[0].idle },
      'DATABASE_URL is a pooler and a database timeout is off: set it on the role (ALTER ROLE … SET)',
    );
  }
}

/** Migrations hold a session advisory lock: through the pool only when it is the direct connection. */
async function migrateOn(directUrl: string, pool: Pool, config: Config): Promise<string[]> {
  if (!config.db.directUrl) return migrate(pool);
  const direct = createPool(directUrl, { ...config.db, poolSize: 2 }, 'ai-service-migrate');
  try {
    return await migrate(direct);
  } finally {
    await direct.end();
  }
}

async function startOnDatabase(
  { database, pool, auth }: { database: Database; pool: Pool; auth: AccessControl },
  config: Config,
  logger: Logger,
  options: ServiceOptions,
  listen: boolean,
): Promise<RunningService> {
  const { url } = database;
  // Session-level features (pg-boss's pool, migrations' advisory lock, LISTEN, the leader's
  // session lock) need a direct connection; DATABASE_URL may be a transaction-mode pooler.
  const directUrl = config.db.directUrl ?? url;
  if (config.db.directUrl) await checkPooledTimeouts(pool, logger);
  const stopping = new AbortController();
  const metrics = createMetrics();
  const tracing = await startTracing(config.tracing, logger);
  const gate = await openReadinessGate({
    url: directUrl,
    pool,
    runMigrations: () => migrateOn(directUrl, pool, config),
    logger,
    migrateOnStart: config.db.migrateOnStart,
    connectTimeoutMs: config.db.connectTimeoutMs,
    prepare: (boss) => ensureWebhookQueue(boss, config.webhooks),
  });

  const queues = new QueueRegistry(() => gate.boss, pool);
  // One LISTEN connection for long-poll wake-ups, policy changes and job events.
  const notifications = new ListenConnection({
    url: directUrl,
    logger,
    applicationName: 'ai-service-listen',
    connectTimeoutMs: config.db.connectTimeoutMs,
  });
  const waiters = new Waiters(notifications);
  const policyCache = new PolicyCache(pool, notifications, logger, () => waiters.wakeAll());
  const hub = new JobEventHub(notifications, pool, logger);
  await policyCache.start();
  await notifications.start();
  const stats = new StatsService(pool, () => policyCache.policies);
  registerQueueGauges(metrics, stats, logger);
  const providers = new ProviderStatusService(config.providers, logger);
  const jobs = new JobService({
    pool,
    queues,
    waiters,
    inputLimits: config.limits.input,
    resultLimits: config.limits.result,
    backoff: config.jobs.retryBackoff,
    longPollRecheckMs: config.jobs.longPollRecheckMs,
    stopping: stopping.signal,
    callbackPolicy: config.webhooks,
    events: metricsJobEvents(metrics),
    tracing,
    policies: () => policyCache.policies,
    hub,
    streamsMax: config.events.streamsMax,
    keepAliveMs: config.events.keepAliveMs,
    logger,
  });

  const leader: Leader = new Leader(
    directUrl,
    logger,
    maintenanceTasks({
      config,
      pool,
      logger,
      jobs,
      purger: new Purger({ db: pool, policy: config.retention.policy }),
      getBoss: () => gate.boss,
      keepGoing: () => leader.isLeader && !stopping.signal.aborted,
    }),
    { connectTimeoutMs: config.db.connectTimeoutMs },
  );
  // Webhook deliveries and the leader's tasks need pg-boss: they start when the gate opens.
  let deliverer: WebhookDeliverer | undefined;
  gate.ready.then(
    (boss) => {
      deliverer = new WebhookDeliverer(boss, pool, logger, config.webhooks, metricsWebhookEvents(metrics), tracing);
      deliverer.start();
      leader.start();
    },
    () => {}, // cancelled by shutdown: nothing to start
  );

  const readiness: Readiness = {
    shuttingDown: false,
    schemaProblem: () => gate.problem(),
    pingDatabase: async () => {
      await pool.query('SELECT 1');
    },
  };
  const app = createApp({
    limits: config.limits,
    logger,
    openRoutes: [metricsRoutes(metrics, config.auth.metricsToken), healthRoutes(readiness), uiRoutes()],
    authenticate: auth.middleware,
    before: [apiWhenReady(() => gate.state === 'ready')],
    routes: [jobRoutes(jobs), statsRoutes(stats), providerRoutes(providers), policyRoutes(new PolicyService(pool, policyCache, logger))],
    validateResponses: options.validateResponses,
    tracing,
  });

  // What runs on the database, stopped in order after the HTTP server and before the pool
  // (close() has already cancelled the gate and aborted long polls; doing it again is harmless).
  const stopWork = async () => {
    await gate.cancel();
    stopping.abort();
    await deliverer?.stop();
    await leader.stop();
    waiters.wakeAll();
    policyCache.stop();
    jobs.progress.stop();
    await notifications.stop();
    await providers.close();
    if (gate.boss) await stopBoss(gate.boss);
    // Last, so the spans of everything above are exported.
    await tracing.shutdown();
  };

  let server: Server | undefined;
  let address = '';
  if (listen) {
    await app.locals.specLoaded;
    // A listener that cannot start (port in use) fails the start with nothing left running.
    server = await listenHttp(app, config.http).catch(async (err) => {
      await stopWork();
      throw err;
    });
    address = serverUrl(server);
    logger.info({ url: address }, 'ai-service listening');
  }

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      readiness.shuttingDown = true;
      const { delayMs, timeoutMs } = config.shutdown;
      await gate.cancel();
      if (server && delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      // Long-poll claims answer now (with what they have) instead of holding the shutdown.
      stopping.abort();
      if (server) await closeHttp(server, { quietMs: config.shutdown.quietMs, timeoutMs });
      await stopWork();
      await pool.end().catch(() => {});
      await database.embedded?.stop();
    })();
    return closing;
  };

  return { app, server, pool, databaseUrl: url, url: address, jobs, queues, leader, auth, close };
}
