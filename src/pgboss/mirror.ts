// The pg-boss mirror: every job is a row in `jobs` AND a row in pgboss.job (same
// id, queue name = `jobs.queue`), and every statement that changes one changes the
// other. This module is the only place that knows how a pgboss.job row follows a
// job: the schema name, the status → state mapping, the attempt fence, and the SQL
// fragments each statement embeds (as functions of the aliases they run against).
//
// Mapping (jobs.status → pgboss.job.state):
//   pending   → created (never claimed) or retry (back in the queue after an attempt)
//   running   → active, with retry_count = attempts - 1 (pg-boss's own attempt fence)
//   completed, failed, cancelled → the state of the same name
// Rows carry keep_until = 'infinity' and deletion_seconds = 0, so pg-boss never
// deletes a job our table still holds; only the retention purge deletes, from both.

import { schemaServesThisBuild } from '../db/schema-guard.ts';

export const PGBOSS_SCHEMA = 'pgboss';
/** The pg-boss job table, schema-qualified. */
export const BOSS_JOB = `${PGBOSS_SCHEMA}.job`;
/**
 * The pg-boss release (and its schema version) our SQL on pgboss.job was written and
 * tested against. Any other release may change those tables: upgrade it deliberately
 * (see src/pgboss/README.md), never by a lock-file refresh.
 */
export const SUPPORTED_PGBOSS = { version: '12.35.0', schema: 43 };

/** pg-boss's expiry, counted from started_on: the maximum, a backstop far beyond any lease. */
export const BACKSTOP_EXPIRE_SECONDS = 86_400;

export type JobStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';
export type BossState = 'created' | 'retry' | 'active' | 'completed' | 'failed' | 'cancelled';

/** The state of a job's pg-boss row once it has been claimed at least once (pending = retry). */
const STATE_OF_STATUS: Record<JobStatus, BossState> = {
  pending: 'retry',
  running: 'active',
  completed: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
};

/** The pg-boss state a job in `status` has; `fresh` = a pending job never claimed (its row is still `created`). */
export function bossStateFor(status: JobStatus, fresh = false): BossState {
  return status === 'pending' && fresh ? 'created' : STATE_OF_STATUS[status];
}

/** SQL: the pg-boss state for a status expression of a job already claimed once (pending → retry). */
export function bossStateOf(statusExpr: string): string {
  const arms = Object.entries(STATE_OF_STATUS)
    .map(([status, state]) => `WHEN '${status}' THEN '${state}'`)
    .join(' ');
  return `(CASE ${statusExpr} ${arms} END)::${PGBOSS_SCHEMA}.job_state`;
}

/** SQL: pg-boss row `p` is the row of job `j` (any state). */
export function bossRowOf(p: string, j: string): string {
  return `${p}.name = ${j}.queue AND ${p}.id = ${j}.id`;
}

/**
 * SQL: pg-boss row `p` holds job `j` at its current attempt (or at `attempt`, an SQL
 * expression, when the change being mirrored gave that attempt back). A row pg-boss's backstop
 * expiry (or anything else) moved no longer matches, so a lease call on it changes nothing.
 */
export function bossFence(p: string, j: string, attempt = `${j}.attempts`): string {
  return `${bossRowOf(p, j)} AND ${p}.state = 'active' AND ${p}.retry_count = ${attempt} - 1`;
}

/** SQL (a WHERE term): job `j`'s pg-boss row holds the current attempt. */
export function bossHoldsAttempt(j: string): string {
  return `EXISTS (SELECT 1 FROM ${BOSS_JOB} p WHERE ${bossFence('p', j)})`;
}

/**
 * SQL (a WHERE term of a statement's final SELECT): aborts the whole statement
 * unless the pg-boss CTE changed exactly as many rows as the jobs CTE did, and
 * unless both schemas still serve this replica (schemasServeThisReplica). Both CTEs must
 * RETURN one row per changed row. Each term is an uncorrelated subquery, run once.
 */
export function bothStoresMoved(bossCte: string, jobsCte: string, what: string): string {
  return `${schemasServeThisReplica()} AND ai_assert((SELECT count(*) FROM ${bossCte}) = (SELECT count(*) FROM ${jobsCte}), 'pg-boss rows did not follow jobs: ${what}')`;
}

/**
 * SQL (a boolean term) every statement that writes both stores carries: true, or raises
 * naming both versions when a newer release migrated the database under this replica,
 * pg-boss's schema (SQLSTATE AIV01, migration 008) or ours (AIV02, src/db/schema-guard.ts).
 * The version guards' running half: src/db/version-guard.ts.
 */
export function schemasServeThisReplica(): string {
  return `((SELECT ai_pgboss_schema_is(${SUPPORTED_PGBOSS.schema}, '${SUPPORTED_PGBOSS.version}')) AND ${schemaServesThisBuild()})`;
}

/** The pg-boss row written for a new job: the columns pg-boss's own insert() sets for a standard queue. */
export interface BossJobInsert {
  id: string;
  name: string;
  data: { owner_service: string; owner_ref: string };
  priority: number;
  state: BossState;
  retry_limit: number;
  expire_seconds: number;
  deletion_seconds: number;
  keep_until: 'infinity';
  start_after: string;
  created_on: string;
  policy: 'standard';
}

export const BOSS_INSERT_COLUMNS = [
  'id',
  'name',
  'data',
  'priority',
  'state',
  'retry_limit',
  'expire_seconds',
  'deletion_seconds',
  'keep_until',
  'start_after',
  'created_on',
  'policy',
] as const satisfies readonly (keyof BossJobInsert)[];

/** The pg-boss row of a job as the service writes it at create (seeders use it for any status). */
export function bossJobInsert(job: {
  id: string;
  queue: string;
  owner_service: string;
  owner_ref: string;
  priority: number;
  max_attempts: number;
  run_after: string;
  created_at: string;
}): BossJobInsert {
  return {
    id: job.id,
    name: job.queue,
    data: { owner_service: job.owner_service, owner_ref: job.owner_ref },
    priority: job.priority,
    state: 'created',
    retry_limit: job.max_attempts - 1,
    expire_seconds: BACKSTOP_EXPIRE_SECONDS,
    deletion_seconds: 0,
    keep_until: 'infinity',
    start_after: job.run_after,
    created_on: job.created_at,
    policy: 'standard',
  };
}

/** SQL (a CTE body): inserts the pg-boss rows of the new `jobs` rows in `j`; returns their ids. */
export function bossInsert(j: string): string {
  return `INSERT INTO ${BOSS_JOB} (${BOSS_INSERT_COLUMNS.join(', ')})
  SELECT id, queue, jsonb_build_object('owner_service', owner_service, 'owner_ref', owner_ref), priority,
         'created', max_attempts - 1, ${BACKSTOP_EXPIRE_SECONDS}, 0, 'infinity', run_after, created_at, 'standard'
  FROM ${j}
  RETURNING id`;
}

/**
 * The columns the webhook outbox trigger (migration 003, function
 * jobs_enqueue_webhook) inserts for a delivery, with retry settings taken from the
 * `webhooks` queue as pg-boss's own insert does. A trigger cannot import this module;
 * test/pgboss/mirror.test.ts checks the installed function against this list.
 */
export const OUTBOX_INSERT_COLUMNS = [
  'id',
  'name',
  'data',
  'state',
  'retry_limit',
  'retry_delay',
  'retry_backoff',
  'retry_delay_max',
  'expire_seconds',
  'deletion_seconds',
  'keep_until',
  'policy',
] as const;

/** SQL (a CTE body): the claimed jobs in `j` become active at their attempt; returns their ids. */
export function bossStart(j: string): string {
  return `UPDATE ${BOSS_JOB} p
  SET state = 'active', started_on = now(), heartbeat_on = now(), retry_count = ${j}.attempts - 1,
      expire_seconds = ${BACKSTOP_EXPIRE_SECONDS}
  FROM ${j}
  WHERE ${bossRowOf('p', j)} AND p.state < 'active'
  RETURNING p.id`;
}

/**
 * SQL (a CTE body): a heartbeat on the jobs in `j` (with their new lease_expires_at).
 * pg-boss's expiry counts expire_seconds from started_on and cannot be extended
 * otherwise: keep it a full backstop period beyond the new lease end, so a job
 * heartbeated for days is never expired by pg-boss behind our back.
 */
export function bossHeartbeat(j: string): string {
  return `UPDATE ${BOSS_JOB} p SET heartbeat_on = now(),
    expire_seconds = GREATEST(p.expire_seconds,
      ceil(extract(epoch FROM ${j}.lease_expires_at - p.started_on))::int + ${BACKSTOP_EXPIRE_SECONDS})
  FROM ${j} WHERE ${bossFence('p', j)}
  RETURNING p.id`;
}

export interface FollowOptions {
  /** Only the row holding the current attempt follows (lease calls); otherwise our row decides whatever pg-boss did. */
  fenced: boolean;
  /** SQL for pg-boss's `output` column (the error), when the change records one. */
  output?: string;
  /** SQL for the attempt the fenced row is held at, when the change gave it back (a deferral); default `j.attempts`. */
  heldAttempt?: string;
}

/**
 * SQL (a CTE body): the pg-boss rows follow the jobs in `j` to their new status
 * (complete, fail, reap, retry, cancel). `j` must carry queue, id, status, attempts,
 * max_attempts and run_after. A job back to pending is due at run_after; a job
 * whose attempts were reset is as if never started.
 */
export function bossFollow(j: string, o: FollowOptions): string {
  return `UPDATE ${BOSS_JOB} p SET
    state = ${bossStateOf(`${j}.status`)},
    start_after = CASE WHEN ${j}.status = 'pending' THEN ${j}.run_after ELSE p.start_after END,
    completed_on = CASE WHEN ${j}.status = 'pending' THEN NULL ELSE now() END,
    started_on = CASE WHEN ${j}.attempts = 0 THEN NULL ELSE p.started_on END,
    retry_limit = ${j}.max_attempts - 1${o.output ? `,\n    output = ${o.output}` : ''}
  FROM ${j} WHERE ${o.fenced ? bossFence('p', j, o.heldAttempt) : bossRowOf('p', j)}
  RETURNING p.id`;
}

/**
 * SQL (a CTE body): recreates the pg-boss rows of the jobs in `j` that have none
 * (deleted through pg-boss's API and not yet adopted), in the state of the job's
 * new status; returns their ids. Runs beside bossFollow in one statement: both read
 * the statement's snapshot, so each job is either updated there or inserted here.
 * `j` must carry the columns of `jobs` (RETURNING jobs.*).
 */
export function bossRecreate(j: string): string {
  return `INSERT INTO ${BOSS_JOB} (${BOSS_INSERT_COLUMNS.join(', ')}, retry_count, completed_on)
  SELECT ${j}.id, ${j}.queue, jsonb_build_object('owner_service', ${j}.owner_service, 'owner_ref', ${j}.owner_ref), ${j}.priority,
         CASE WHEN ${j}.status = 'pending' AND ${j}.attempts = 0 THEN 'created'::${PGBOSS_SCHEMA}.job_state
              ELSE ${bossStateOf(`${j}.status`)} END,
         ${j}.max_attempts - 1, ${BACKSTOP_EXPIRE_SECONDS}, 0, 'infinity', ${j}.run_after, ${j}.created_at, 'standard',
         GREATEST(${j}.attempts - 1, 0), CASE WHEN ${j}.status = 'pending' THEN NULL ELSE now() END
  FROM ${j} WHERE NOT EXISTS (SELECT 1 FROM ${BOSS_JOB} p WHERE ${bossRowOf('p', j)})
  ON CONFLICT DO NOTHING
  RETURNING id`;
}

/** SQL (a CTE body): deletes the pg-boss rows of the jobs in `j` (retention purge). */
export function bossDelete(j: string): string {
  return `DELETE FROM ${BOSS_JOB} p USING ${j} WHERE ${bossRowOf('p', j)} RETURNING p.id`;
}

/** SQL (a CTE body): deletes the rows of queue `queue` (a trusted literal) whose ids `ids` (an array expression) lists. */
export function bossDeleteIds(queue: string, ids: string): string {
  return `DELETE FROM ${BOSS_JOB} p WHERE p.name = '${queue}' AND p.id = ANY (${ids})`;
}

/** SQL (an expression): when the retrying row of `queue` with id `idExpr` is next due. */
export function bossStartAfter(queue: string, idExpr: string): string {
  return `(SELECT start_after FROM ${BOSS_JOB} p WHERE p.name = '${queue}' AND p.id = ${idExpr})`;
}

/** Statement: moves the next attempt of a retrying row of `queue` ($1 id) to $2 ms from now. */
export function bossDelayRetry(queue: string): string {
  return `UPDATE ${BOSS_JOB} SET start_after = now() + make_interval(secs => $2::float8 / 1000)
     WHERE name = '${queue}' AND id = $1::uuid AND state = 'retry'`;
}

/** Statement: makes the active attempt of the row of `queue` ($1 id) its last, so pg-boss's fail() ends it. */
export function bossMakeLastAttempt(queue: string): string {
  return `UPDATE ${BOSS_JOB} SET retry_limit = retry_count WHERE name = '${queue}' AND id = $1::uuid AND state = 'active'`;
}
