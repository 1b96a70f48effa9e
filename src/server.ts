// The composition root: database (given or embedded), migrations, pg-boss, the
// HTTP app, the leader's periodic tasks, and an orderly shutdown.
import type { Server } from 'node:http';
import path from 'node:path';
import type { Express } from 'express';
import type { PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import { type AccessControl, createAccessControl } from './auth/access.ts';
import type { Config } from './config.ts';
import { type EmbeddedDatabase, startEmbeddedPostgres } from './dev/embedded.ts';
import { migrate, pendingMigrations } from './db/migrate.ts';
import { createPool, maskDatabaseUrl, type Pool } from './db/pool.ts';
import { createApp } from './http/app.ts';
import { healthRoutes, type Readiness } from './http/health.ts';
import { closeHttp, listenHttp, serverUrl } from './http/listen.ts';
import { unavailable } from './http/problem.ts';
import { JobService } from './jobs/service.ts';
import { Purger, retentionPolicy } from './retention/purge.ts';
import { jobRoutes } from './jobs/routes.ts';
import { createMetrics } from './metrics/metrics.ts';
import { metricsRoutes } from './metrics/routes.ts';
import { metricsJobEvents } from './jobs/metrics.ts';
import { registerQueueGauges } from './stats/metrics.ts';
import { metricsWebhookEvents } from './webhooks/metrics.ts';
import { providerRoutes } from './providers/routes.ts';
import { ProviderStatusService } from './providers/status.ts';
import { bossInstalled, QueueRegistry, startBoss } from './pgboss/boss.ts';
import { Leader } from './leader/leader.ts';
import { maintenanceTasks } from './leader/tasks.ts';
import { Waiters } from './jobs/waiters.ts';
import { statsRoutes } from './stats/routes.ts';
import { StatsService } from './stats/service.ts';
import { uiRoutes } from './ui/routes.ts';
import { ensureWebhookQueue, WebhookDeliverer } from './webhooks/deliverer.ts';

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

const SCHEMA_POLL_MS = 1000;

async function resolveDatabase(config: Config, logger: Logger): Promise<{ url: string; embedded?: EmbeddedDatabase }> {
  if (config.databaseUrl) return { url: config.databaseUrl };
  const dataDir = path.resolve(config.dataDir, 'postgres');
  const embedded = await startEmbeddedPostgres(dataDir);
  const how = {
    started: 'started embedded PostgreSQL',
    adopted: 'reusing embedded PostgreSQL left running by a previous process',
    shared: 'using embedded PostgreSQL run by another process',
  }[embedded.origin];
  logger.info({ url: maskDatabaseUrl(embedded.url), dataDir }, `DATABASE_URL is not set: ${how}`);
  return { url: embedded.url, embedded };
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
  if (!config.databaseDirectUrl) return migrate(pool);
  const direct = createPool(directUrl, { ...config, dbPoolSize: 2 }, 'ai-service-migrate');
  try {
    return await migrate(direct);
  } finally {
    await direct.end();
  }
}

export async function startService(config: Config, logger: Logger, options: ServiceOptions = {}, listen = true): Promise<RunningService> {
  // First, so a production start without tokens is refused before anything else starts.
  const auth = createAccessControl(config, logger);
  const { url, embedded } = await resolveDatabase(config, logger);
  const pool = createPool(url, config, 'ai-service', {
    pooled: config.databaseDirectUrl !== undefined,
    preparedStatements: config.dbPreparedStatements,
  });
  try {
    return await startOnDatabase({ url, embedded, pool, auth }, config, logger, options, listen);
  } catch (err) {
    // A failed start (migration error, port in use) leaves no server or connections behind.
    await pool.end().catch(() => {});
    await embedded?.stop();
    throw err;
  }
}

async function startOnDatabase(
  { url, embedded, pool, auth }: { url: string; embedded?: EmbeddedDatabase; pool: Pool; auth: AccessControl },
  config: Config,
  logger: Logger,
  options: ServiceOptions,
  listen: boolean,
): Promise<RunningService> {
  // Session-level features (pg-boss's pool, migrations' advisory lock, LISTEN, the leader's
  // session lock) need a direct connection; DATABASE_URL may be a transaction-mode pooler.
  const directUrl = config.databaseDirectUrl ?? url;
  if (config.databaseDirectUrl) await checkPooledTimeouts(pool, logger);
  let boss: PgBoss | undefined;
  let schemaReady = false;
  let schemaTimer: NodeJS.Timeout | undefined;
  const stopping = new AbortController();

  const checkSchema = async (): Promise<string | undefined> => {
    if (schemaReady) return undefined;
    const pending = await pendingMigrations(pool);
    if (pending.length) return `pending migrations: ${pending.join(', ')}; run npm run migrate`;
    if (!(await bossInstalled(pool))) return 'pg-boss schema is not installed; run npm run migrate';
    return undefined;
  };
  const webhookConfig = {
    secrets: config.webhookSecrets,
    timeoutMs: config.webhookTimeoutMs,
    maxAttempts: config.webhookMaxAttempts,
    retryBaseMs: config.webhookRetryBaseMs,
    retryMaxMs: config.webhookRetryMaxMs,
    pollMs: config.webhookPollMs,
    allowPrivateAddresses: config.webhookAllowPrivateAddresses,
  };
  const stats = new StatsService(pool);
  const metrics = createMetrics();
  registerQueueGauges(metrics, stats, logger);
  let deliverer: WebhookDeliverer | undefined;
  const bringUp = async () => {
    // pg-boss's own supervisor is off on every replica: the leader runs its passes
    // (expiry backstop, queue stats, maintenance), so exactly one replica does at a time.
    const b = await startBoss(directUrl, logger, { migrate: config.migrateOnStart, supervise: false });
    await ensureWebhookQueue(b, webhookConfig);
    deliverer = new WebhookDeliverer(b, pool, logger, webhookConfig, metricsWebhookEvents(metrics));
    deliverer.start();
    boss = b;
    schemaReady = true;
  };

  if (config.migrateOnStart) {
    const applied = await migrateOn(directUrl, pool, config);
    if (applied.length) logger.info({ applied }, 'applied migrations');
    await bringUp();
  } else {
    const problem = await checkSchema();
    if (problem) {
      logger.warn({ problem }, 'MIGRATE_ON_START=false and the schema is not current: not ready until it is');
      const poll = async () => {
        if (stopping.signal.aborted) return;
        const p = await checkSchema().catch((e: Error) => e.message);
        if (!p) await bringUp().catch((err) => logger.warn({ err }, 'pg-boss failed to start'));
        if (!schemaReady) schemaTimer = setTimeout(poll, SCHEMA_POLL_MS);
        else logger.info('schema is current: ready');
      };
      schemaTimer = setTimeout(poll, SCHEMA_POLL_MS);
    } else {
      await bringUp();
    }
  }

  const queues = new QueueRegistry(() => boss, pool);
  const waiters = new Waiters(directUrl, logger);
  await waiters.start();
  const providers = new ProviderStatusService(config, logger);
  const jobs = new JobService({
    pool,
    queues,
    waiters,
    inputLimits: { maxBytes: config.maxInputBytes, maxDepth: config.jsonMaxDepth },
    resultLimits: { maxBytes: config.maxResultBytes, maxDepth: config.jsonMaxDepth },
    backoff: { baseMs: config.retryBackoffBaseMs, maxMs: config.retryBackoffMaxMs },
    longPollRecheckMs: config.longPollRecheckMs,
    stopping: stopping.signal,
    callbackPolicy: {
      allowedHosts: config.webhookAllowedHosts,
      secrets: config.webhookSecrets,
      allowPrivateAddresses: config.webhookAllowPrivateAddresses,
    },
    events: metricsJobEvents(metrics),
  });

  const leader: Leader = new Leader(
    directUrl,
    logger,
    maintenanceTasks({
      config,
      pool,
      logger,
      jobs,
      purger: new Purger({ db: pool, policy: retentionPolicy(config) }),
      getBoss: () => boss,
      keepGoing: () => leader.isLeader && !stopping.signal.aborted,
    }),
  );
  if (schemaReady) leader.start();
  else {
    const startLeader = setInterval(() => {
      if (schemaReady) {
        clearInterval(startLeader);
        leader.start();
      }
    }, 500);
    stopping.signal.addEventListener('abort', () => clearInterval(startLeader));
  }

  const readiness: Readiness = {
    shuttingDown: false,
    // Ready only once pg-boss runs too: the schema may be current a poll tick before that.
    schemaProblem: async () => (schemaReady ? undefined : ((await checkSchema()) ?? 'schema is current; the queue is starting')),
    pingDatabase: async () => {
      await pool.query('SELECT 1');
    },
  };
  const app = createApp({
    config,
    logger,
    openRoutes: [metricsRoutes(metrics, config.metricsToken), healthRoutes(readiness), uiRoutes()],
    authenticate: auth.middleware,
    before: [
      (req, _res, next) =>
        schemaReady || !req.path.startsWith('/api/')
          ? next()
          : next(unavailable('migrations_pending', 'the database schema is not current; run npm run migrate')),
    ],
    routes: [jobRoutes(jobs), statsRoutes(stats), providerRoutes(providers)],
    validateResponses: options.validateResponses,
  });

  let server: Server | undefined;
  let address = '';
  if (listen) {
    await app.locals.specLoaded;
    server = await listenHttp(app, config);
    address = serverUrl(server);
    logger.info({ url: address }, 'ai-service listening');
  }

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      readiness.shuttingDown = true;
      clearTimeout(schemaTimer);
      if (server && config.shutdownDelayMs > 0) await new Promise((r) => setTimeout(r, config.shutdownDelayMs));
      // Long-poll claims answer now (with what they have) instead of holding the shutdown.
      stopping.abort();
      if (server) await closeHttp(server, { quietMs: config.shutdownQuietMs, timeoutMs: config.shutdownTimeoutMs });
      await deliverer?.stop();
      await leader.stop();
      await waiters.stop();
      await providers.close();
      await boss?.stop({ graceful: true, wait: true, timeout: 5000 } as any).catch(() => {});
      await pool.end().catch(() => {});
      await embedded?.stop();
    })();
    return closing;
  };

  return { app, server, pool, databaseUrl: url, url: address, jobs, queues, leader, auth, close };
}
