// pg-boss owns the `pgboss` schema, queue definitions and its maintenance loop.
// Our hot paths write pgboss.job rows directly in the same statement as `jobs`
// (the features' *-store.ts modules, through pgboss/mirror.ts), so this module only
// starts pg-boss and creates queues.
//
// Queue settings chosen so pg-boss never acts behind our back on a job we still hold:
// - expireInSeconds 86400 (the maximum): a backstop far beyond any lease; the lease
//   reaper acts first and reconciles if pg-boss ever does.
// - deleteAfterSeconds 0: finished jobs are removed only by our purge, from both stores.
// - rows are inserted with keep_until = 'infinity', so retention never deletes a
//   queued job our table still says is pending.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import { type Queryable, SERVICE_APPLICATION_NAME } from '../db/pool.ts';
import { unavailable } from '../http/problem.ts';
import { BACKSTOP_EXPIRE_SECONDS, PGBOSS_SCHEMA, SUPPORTED_PGBOSS } from './mirror.ts';

// Re-exported for the benchmark seeders, which import them from here.
export { BACKSTOP_EXPIRE_SECONDS, PGBOSS_SCHEMA, SUPPORTED_PGBOSS };
// retention_seconds is an int column; ~63 years keeps it valid and irrelevant.
const RETENTION_SECONDS = 2_000_000_000;

export function queueName(taskType: string, modelProfile: string): string {
  return `${taskType}/${modelProfile}`;
}

export interface BossOptions {
  migrate: boolean;
  supervise: boolean;
  /**
   * Connection attempt deadline (DB_CONNECT_TIMEOUT) for pg-boss's pool; pg-boss's own
   * default is 10 s, and a create into a new queue waits on that pool inside a request.
   */
  connectTimeoutMs?: number;
}

export class PgbossVersionError extends Error {}

async function installedPgboss(): Promise<{ version: string; schema: number }> {
  // pg-boss's exports do not include package.json: walk up from its entry point.
  let dir = path.dirname(fileURLToPath(import.meta.resolve('pg-boss')));
  for (;;) {
    const pkg = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8').catch(() => '{}'));
    if (pkg.name === 'pg-boss') return { version: pkg.version, schema: pkg.pgboss?.schema };
    const up = path.dirname(dir);
    if (up === dir) throw new PgbossVersionError('pg-boss package.json not found');
    dir = up;
  }
}

/** Refuses to run against a pg-boss package or database schema other than the supported one. */
export async function checkPgbossVersion(db: Queryable): Promise<void> {
  const installed = await installedPgboss();
  if (installed.version !== SUPPORTED_PGBOSS.version || installed.schema !== SUPPORTED_PGBOSS.schema)
    throw new PgbossVersionError(
      `pg-boss ${installed.version} (schema ${installed.schema}) is installed, but this service supports pg-boss ${SUPPORTED_PGBOSS.version} (schema ${SUPPORTED_PGBOSS.schema})`,
    );
  const { rows: exists } = await db.query(`SELECT to_regclass('${PGBOSS_SCHEMA}.version') IS NOT NULL AS ok`);
  if (!exists[0].ok) return; // not installed yet: pg-boss installs the supported version
  const { rows } = await db.query(`SELECT version FROM ${PGBOSS_SCHEMA}.version LIMIT 1`);
  const schema = rows[0]?.version;
  if (schema != null && Number(schema) > SUPPORTED_PGBOSS.schema)
    throw new PgbossVersionError(
      `the database's pg-boss schema is version ${schema}, newer than version ${SUPPORTED_PGBOSS.schema} (pg-boss ${SUPPORTED_PGBOSS.version}) that this service supports: a newer release migrated it`,
    );
}

export async function startBoss(connectionString: string, logger: Logger, opts: BossOptions): Promise<PgBoss> {
  const client = new pg.Client({
    connectionString,
    application_name: SERVICE_APPLICATION_NAME,
    connectionTimeoutMillis: opts.connectTimeoutMs,
  });
  await client.connect();
  try {
    await checkPgbossVersion(client);
  } finally {
    await client.end();
  }
  const boss = new PgBoss({
    connectionString,
    schema: PGBOSS_SCHEMA,
    max: 3,
    application_name: 'ai-service-pgboss',
    connectionTimeoutMillis: opts.connectTimeoutMs,
    keepAlive: true,
    migrate: opts.migrate,
    supervise: opts.supervise,
    schedule: false,
    // pg-boss would REINDEX CONCURRENTLY, once a day, any job index it finds bloated. Our queues
    // share its job table, so each rebuild reads every retained job twice, and its test reads
    // index statistics a bulk load leaves stale: it fired a minute into the benchmark's seed.
    // It still reports bloat (logged below); ops rebuild at a chosen time (README.md).
    reindex: false,
  } as any);
  boss.on('error', (err: any) => logger.warn({ err: { message: err?.message, code: err?.code } }, 'pg-boss error'));
  boss.on('warning', (w: any) => logger.warn({ pgboss: warningDetails(w?.data) }, w?.message ?? 'pg-boss warning'));
  await boss.start();
  // Watch pgboss.job for changes made by pg-boss's own tools (migration 004); our
  // migrations may have run before pg-boss's schema existed.
  if (opts.migrate) await boss.getDb().executeSql(`SELECT CASE WHEN to_regproc('ai_watch_pgboss') IS NOT NULL THEN ai_watch_pgboss() END`);
  return boss;
}

/**
 * What a pg-boss warning carries, without the SQL and values of a slow query (job data) or the
 * text of a query holding back the MVCC horizon: its scalar facts only (index, sizes, seconds).
 */
export function warningDetails(data: unknown): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  if (data === null || typeof data !== 'object') return out;
  for (const [k, v] of Object.entries(data)) {
    if (k === 'sql' || k === 'values' || k === 'query') continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
  }
  return out;
}

/** Installs or migrates the pgboss schema and stops (used by `npm run migrate`). */
export async function migrateBoss(connectionString: string, logger: Logger): Promise<void> {
  const boss = await startBoss(connectionString, logger, { migrate: true, supervise: false });
  await boss.stop({ graceful: false, wait: true } as any);
}

/** pg-boss's `db` option for one of our clients, so a pg-boss call joins our transaction. */
export function bossDb(client: Queryable): { executeSql: (text: string, values?: unknown[]) => Promise<any> } {
  return { executeSql: (text, values) => client.query(text, values as any[]) };
}

export async function bossInstalled(db: Queryable): Promise<boolean> {
  const { rows } = await db.query(`SELECT to_regclass('${PGBOSS_SCHEMA}.version') IS NOT NULL AS ok`);
  return rows[0].ok;
}

/**
 * Creates pg-boss queues on first use and remembers them. createQueue cannot join
 * our transaction (pg-boss takes no `db` there), so queues are created before the
 * job statement; an empty queue left by a failed create is harmless.
 */
export class QueueRegistry {
  private readonly known = new Set<string>();
  private readonly getBoss: () => PgBoss | undefined;
  private readonly db: Queryable;

  /** getBoss returns undefined until pg-boss has started (schema not yet current). */
  constructor(getBoss: () => PgBoss | undefined, db: Queryable) {
    this.getBoss = getBoss;
    this.db = db;
  }

  /** Forgets every queue: the next ensure() creates them again (another replica may have dropped one). */
  forgetAll(): void {
    this.known.clear();
  }

  async ensure(pairs: Iterable<{ task_type: string; model_profile: string }>): Promise<void> {
    for (const { task_type, model_profile } of pairs) {
      const name = queueName(task_type, model_profile);
      if (this.known.has(name)) continue;
      const boss = this.getBoss();
      if (!boss) throw unavailable('migrations_pending', 'the queue is not started yet');
      await boss.createQueue(name, {
        expireInSeconds: BACKSTOP_EXPIRE_SECONDS,
        retentionSeconds: RETENTION_SECONDS,
        deleteAfterSeconds: 0,
        retryLimit: 0,
      } as any);
      await this.db.query(
        `INSERT INTO job_queues (name, task_type, model_profile) VALUES ($1::text, $2::text, $3::text)
         ON CONFLICT (name) DO NOTHING`,
        [name, task_type, model_profile],
      );
      this.known.add(name);
    }
  }
}
