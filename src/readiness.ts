// The readiness gate: the service is ready once both schemas (ours and pg-boss's)
// are current and pg-boss runs. With MIGRATE_ON_START (the default) opening the
// gate migrates and starts pg-boss, and a failure fails the start. Without it, a
// schema that is not current is not an error: the gate re-checks it every
// SCHEMA_POLL_MS until `npm run migrate` has run, so the service turns ready
// without a restart. Until then the API answers 503 and /readyz says what is missing.
// A database a newer release migrated past this build (src/db/schema-guard.ts) fails
// the start; found later by /readyz, it stops the process (src/db/version-guard.ts).
import type { PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import { pendingMigrations } from './db/migrate.ts';
import type { Pool } from './db/pool.ts';
import { checkSchemaServesThisBuild, schemaNeedsNewerBuild } from './db/schema-guard.ts';
import { reportVersionMismatch } from './db/version-guard.ts';
import { bossInstalled, startBoss } from './pgboss/boss.ts';

const SCHEMA_POLL_MS = 1000;
const BOSS_STOP_TIMEOUT_MS = 5000;

export type GateState = 'waiting' | 'ready' | 'cancelled';

export interface ReadinessGate {
  /** Resolves with the running pg-boss once ready; rejects if cancelled before. */
  readonly ready: Promise<PgBoss>;
  readonly state: GateState;
  /** The running pg-boss once ready, else undefined. */
  readonly boss: PgBoss | undefined;
  /** Why the service is not ready (checked now), or undefined once it is. */
  problem(): Promise<string | undefined>;
  /** Stops waiting; resolves once an attempt under way has ended (stopping a pg-boss it started). */
  cancel(): Promise<void>;
}

export interface GateOptions {
  /** Where pg-boss connects (the direct connection when DATABASE_URL is a pooler). */
  url: string;
  pool: Pool;
  /** Applies pending migrations (MIGRATE_ON_START); returns their names. */
  runMigrations(): Promise<string[]>;
  logger: Logger;
  migrateOnStart: boolean;
  /** Connection attempt deadline for pg-boss's pool (DB_CONNECT_TIMEOUT). */
  connectTimeoutMs?: number;
  /** Runs on the started pg-boss before the gate opens: what the API needs of it (queues). */
  prepare(boss: PgBoss): Promise<void>;
  /** How often a waiting gate re-checks the schema (SCHEMA_POLL_MS unless a test says otherwise). */
  pollMs?: number;
}

async function schemaProblem(pool: Pool): Promise<string | undefined> {
  const newer = await schemaNeedsNewerBuild(pool);
  if (newer) return newer;
  const pending = await pendingMigrations(pool);
  if (pending.length) return `pending migrations: ${pending.join(', ')}; run npm run migrate`;
  if (!(await bossInstalled(pool))) return 'pg-boss schema is not installed; run npm run migrate';
  return undefined;
}

export function stopBoss(boss: PgBoss): Promise<void> {
  return boss.stop({ graceful: true, wait: true, timeout: BOSS_STOP_TIMEOUT_MS } as any).catch(() => {});
}

/**
 * Returns the gate once it is open, or at once with a waiting gate when
 * MIGRATE_ON_START=false and the schema is not current. Throws when migrating or
 * starting pg-boss fails during the start itself.
 */
export async function openReadinessGate(o: GateOptions): Promise<ReadinessGate> {
  let state: GateState = 'waiting';
  let boss: PgBoss | undefined;
  let timer: NodeJS.Timeout | undefined;
  let attempt: Promise<void> | undefined;
  const { promise: ready, resolve, reject } = Promise.withResolvers<PgBoss>();
  // A gate cancelled before anyone awaited it is not an unhandled rejection.
  ready.catch(() => {});

  /** Starts pg-boss and opens the gate; false when cancelled meanwhile. */
  const startQueue = async (): Promise<boolean> => {
    // pg-boss's own supervisor is off on every replica: the leader runs its passes
    // (expiry backstop, queue stats, maintenance), so exactly one replica does at a time.
    const started = await startBoss(o.url, o.logger, {
      migrate: o.migrateOnStart,
      supervise: false,
      connectTimeoutMs: o.connectTimeoutMs,
    });
    try {
      await o.prepare(started);
    } catch (err) {
      await stopBoss(started);
      throw err;
    }
    if (state === 'cancelled') {
      await stopBoss(started);
      return false;
    }
    boss = started;
    state = 'ready';
    resolve(started);
    return true;
  };

  const tick = async () => {
    const problem = await schemaProblem(o.pool).catch((err: Error) => err.message);
    if (problem || state !== 'waiting') return;
    const opened = await startQueue().catch((err) => o.logger.warn({ err }, 'pg-boss failed to start'));
    if (opened) o.logger.info('schema is current: ready');
  };
  const schedule = () => {
    timer = setTimeout(() => {
      attempt = tick().finally(() => {
        attempt = undefined;
        if (state === 'waiting') schedule();
      });
    }, o.pollMs ?? SCHEMA_POLL_MS);
  };

  // A database a newer release migrated past this build: refuse to start (exit 1).
  await checkSchemaServesThisBuild(o.pool);
  if (o.migrateOnStart) {
    const applied = await o.runMigrations();
    if (applied.length) o.logger.info({ applied }, 'applied migrations');
    await startQueue();
  } else {
    const problem = await schemaProblem(o.pool);
    if (problem) {
      o.logger.warn({ problem }, 'MIGRATE_ON_START=false and the schema is not current: not ready until it is');
      schedule();
    } else {
      await startQueue();
    }
  }

  return {
    ready,
    get state() {
      return state;
    },
    get boss() {
      return boss;
    },
    // Ready only once pg-boss runs too: the schema may be current a poll tick before that.
    // Once ready, a newer release may still migrate past this build: it then stops (exit 1).
    problem: async () => {
      if (state !== 'ready') return (await schemaProblem(o.pool)) ?? 'schema is current; the queue is starting';
      const newer = await schemaNeedsNewerBuild(o.pool);
      if (newer) reportVersionMismatch(newer);
      return newer;
    },
    async cancel() {
      if (state === 'waiting') {
        state = 'cancelled';
        reject(new Error('the service shut down before it was ready'));
      }
      clearTimeout(timer);
      await attempt;
    },
  };
}
