// Fast seeding with generate_series: one statement per chunk writes the `jobs`
// rows, their attempt records and the mirrored pg-boss rows, the same shape the
// service's own SQL writes (src/jobs/create-store.ts, claim-store.ts,
// settle-store.ts): pg-boss row id = job id, name = queue, data = owner fields,
// retry_limit = max_attempts - 1, retry_count = attempts - 1, expire 86400 s,
// deletion_seconds 0, keep_until 'infinity', start_after = run_after,
// created_on = created_at. The jobs triggers count the rows as they go in.
//
// Ids are UUIDv7 from PostgreSQL 18's uuidv7(shift), shifted to each row's
// created_at, so id order is creation order as it is for real jobs.
import type pg from 'pg';
import { PGBOSS_SCHEMA } from '../../src/pgboss/boss.ts';
import type { QueueRef } from './driver.ts';
import { INPUT, OWNER_SERVICE } from './driver.ts';

const CHUNK_ROWS = 100_000;

/** Share of each status in 100 (the rest of 100 is 'completed'). */
export interface StatusMix {
  pending: number;
  failed: number;
  cancelled: number;
}

export const ALL_PENDING: StatusMix = { pending: 100, failed: 0, cancelled: 0 };

// $1 task types, $2 model profiles (parallel arrays, one entry per queue), $3 first g,
// $4 last g, $5 total rows, $6 spacing between rows in ms, $7..$9 status mix, $10 input.
const SEED = `
WITH src AS (
  SELECT g, ($1::text[])[1 + g % cardinality($1::text[])] AS task_type,
         ($2::text[])[1 + g % cardinality($2::text[])] AS model_profile,
         -make_interval(secs => ($5::int - g) * $6::float8 / 1000) AS age,
         ((hashint4(g)::bigint % 100) + 100) % 100 AS bucket
  FROM generate_series($3::int, $4::int) g
),
rows AS (
  SELECT uuidv7(age) AS id, task_type, model_profile, now() + age AS created_at, status,
         CASE WHEN status IN ('completed', 'failed') THEN gen_random_uuid() END AS lease_token
  FROM (
    SELECT *, CASE WHEN bucket < $7::int THEN 'pending'
                   WHEN bucket < $7::int + $8::int THEN 'failed'
                   WHEN bucket < $7::int + $8::int + $9::int THEN 'cancelled'
                   ELSE 'completed' END AS status
    FROM src
  ) s
),
ins AS (
  INSERT INTO jobs (id, owner_service, owner_ref, task_type, model_profile, status, priority, input, result, error,
                    error_at, attempts, max_attempts, request_hash, worker_id, lease_token, lease_seconds, run_after,
                    created_at, updated_at, started_at, finished_at)
  SELECT id, '${OWNER_SERVICE}', 'seed-' || id, task_type, model_profile, status, 0, $10::jsonb,
         CASE WHEN status = 'completed' THEN '{"ok":true}'::jsonb END,
         CASE WHEN status = 'failed' THEN '{"category":"invalid_input","message":"seeded failure"}'::jsonb END,
         CASE WHEN status = 'failed' THEN created_at + interval '2 s' END,
         CASE WHEN status IN ('completed', 'failed') THEN 1 ELSE 0 END, 3, md5(id::text),
         CASE WHEN status IN ('completed', 'failed') THEN 'bench-seed' END, lease_token,
         CASE WHEN status IN ('completed', 'failed') THEN 300 END, created_at, created_at,
         CASE WHEN status = 'pending' THEN created_at ELSE created_at + interval '2 s' END,
         CASE WHEN status IN ('completed', 'failed') THEN created_at + interval '1 s' END,
         CASE WHEN status <> 'pending' THEN created_at + interval '2 s' END
  FROM rows
  RETURNING id, queue, owner_service, owner_ref, status, priority, attempts, max_attempts, error, worker_id,
            lease_token, run_after, created_at, started_at, finished_at
),
att AS (
  INSERT INTO job_attempts (job_id, attempt, worker_id, lease_token, claimed_at, lease_expires_at, finished_at, outcome, error)
  SELECT id, 1, worker_id, lease_token, started_at, started_at + interval '300 s', finished_at, status, error
  FROM ins WHERE attempts > 0
)
INSERT INTO ${PGBOSS_SCHEMA}.job (id, name, data, priority, state, retry_limit, retry_count, expire_seconds,
                                  deletion_seconds, keep_until, start_after, created_on, started_on, completed_on,
                                  output, policy)
SELECT id, queue, jsonb_build_object('owner_service', owner_service, 'owner_ref', owner_ref), priority,
       (CASE status WHEN 'pending' THEN 'created' ELSE status END)::${PGBOSS_SCHEMA}.job_state,
       max_attempts - 1, GREATEST(attempts - 1, 0), 86400, 0, 'infinity', run_after, created_at, started_at,
       finished_at, error, 'standard'
FROM ins`;

/**
 * Inserts `total` jobs spread round-robin over `queues`, created `spacingMs` apart
 * and ending now. The queues must already exist (in pg-boss and job_queues).
 */
export async function seedJobs(db: pg.Pool, queues: QueueRef[], total: number, mix: StatusMix, spacingMs = 1): Promise<void> {
  const taskTypes = queues.map((q) => q.task_type);
  const profiles = queues.map((q) => q.model_profile);
  for (let first = 1; first <= total; first += CHUNK_ROWS) {
    const last = Math.min(total, first + CHUNK_ROWS - 1);
    await db.query(SEED, [
      taskTypes,
      profiles,
      first,
      last,
      total,
      spacingMs,
      mix.pending,
      mix.failed,
      mix.cancelled,
      JSON.stringify(INPUT),
    ]);
  }
}

/** Fresh statistics and a clean visibility map, so plans are those of a settled table. */
export async function vacuumAnalyze(db: pg.Pool): Promise<void> {
  await db.query('VACUUM (ANALYZE) jobs, job_attempts, job_stat_deltas, job_stats');
  await db.query(`VACUUM (ANALYZE) ${PGBOSS_SCHEMA}.job_common`);
}

export async function countJobs(db: pg.Pool): Promise<number> {
  const { rows } = await db.query('SELECT count(*)::int AS n FROM jobs');
  return rows[0].n;
}

const SETTLE_LIMIT_MS = 60_000;
const SETTLE_POLL_MS = 250;

/**
 * Waits (up to a minute) until no autovacuum worker is running on the server, so
 * a vacuum set off by the previous scenario's writes does not land in the next
 * one's measurements. Returns the milliseconds waited.
 */
export async function settle(db: pg.Pool): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < SETTLE_LIMIT_MS) {
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'`);
    if (rows[0].n === 0) break;
    await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
  }
  return Date.now() - start;
}
