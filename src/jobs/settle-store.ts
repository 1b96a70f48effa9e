// Worker calls on a held lease: heartbeat, complete, fail. Each is one statement
// that changes `jobs`, the attempt record and the pg-boss row together, and only
// when the lease token is current and unexpired. The pg-boss row is fenced on
// state = 'active' AND retry_count = attempts - 1 (pg-boss's own attempt fence):
// a job pg-boss no longer holds at this attempt (its backstop expiry acted) matches
// nothing, so the worker gets 409 and the reaper reconciles the row. ai_assert
// aborts the statement if pg-boss changes between the check and the write.
import type { Queryable } from '../db/pool.ts';
import { BACKSTOP_EXPIRE_SECONDS, PGBOSS_SCHEMA } from '../pgboss/boss.ts';
import { JOB_COLUMNS, type JobRow } from './job-row.ts';

const FENCE = `p.name = j.queue AND p.id = j.id AND p.state = 'active' AND p.retry_count = j.attempts - 1`;

// `(status = 'running') IS TRUE` (status is NOT NULL, so the same test) keeps the
// planner off jobs_lease_idx, whose predicate a plain `status = 'running'` matches:
// with statistics taken while few jobs ran, it chose to walk that index over every
// running job (0.14 ms at 700 running, growing with them) instead of the primary key.
const HOLDS_LEASE = `id = $1::uuid AND (status = 'running') IS TRUE AND lease_token = $2::uuid AND lease_expires_at > now()
  AND EXISTS (SELECT 1 FROM ${PGBOSS_SCHEMA}.job p WHERE ${FENCE.replaceAll('j.', 'jobs.')})`;

// The attempt row of the lease being used.
const THIS_ATTEMPT = `t.job_id = j.id AND t.lease_token = j.lease_token`;

const HEARTBEAT = `
WITH j AS (
  UPDATE jobs SET lease_expires_at = now() + make_interval(secs => COALESCE($3::int, lease_seconds)), updated_at = now()
  WHERE ${HOLDS_LEASE}
  RETURNING id, queue, attempts, lease_token, lease_expires_at
),
a AS (
  UPDATE job_attempts t SET lease_expires_at = j.lease_expires_at FROM j WHERE ${THIS_ATTEMPT}
),
-- pg-boss's backstop expiry counts expire_seconds from started_on and cannot be
-- extended otherwise: keep it a full backstop period beyond the new lease end, so a
-- job heartbeated for days is never expired by pg-boss behind our back.
b AS (
  UPDATE ${PGBOSS_SCHEMA}.job p SET heartbeat_on = now(),
    expire_seconds = GREATEST(p.expire_seconds,
      ceil(extract(epoch FROM j.lease_expires_at - p.started_on))::int + ${BACKSTOP_EXPIRE_SECONDS})
  FROM j WHERE ${FENCE} RETURNING p.id
)
SELECT id, lease_expires_at, ai_assert((SELECT count(*) FROM b) = 1, 'pg-boss job not active') AS ok FROM j`;

export async function heartbeat(
  db: Queryable,
  id: string,
  token: string,
  leaseSeconds: number | undefined,
): Promise<{ id: string; lease_expires_at: string } | undefined> {
  const { rows } = await db.query({ name: 'heartbeat', text: HEARTBEAT, values: [id, token, leaseSeconds ?? null] });
  if (!rows[0]) return undefined;
  return { id: rows[0].id, lease_expires_at: rows[0].lease_expires_at };
}

// Completes one or many jobs in one statement: each item must hold its job's lease
// (the same test as HOLDS_LEASE, per input row). Items that do not are left out of
// the result; the caller tells a replay from a lost lease with leaseOutcome().
const COMPLETE = `
WITH input AS (
  SELECT * FROM json_to_recordset($1::json) AS x (id uuid, lease_token uuid, result jsonb)
),
j AS (
  UPDATE jobs SET status = 'completed', result = input.result, error = NULL, finished_at = now(), updated_at = now(),
    lease_expires_at = NULL
  FROM input
  WHERE jobs.id = input.id AND (jobs.status = 'running') IS TRUE AND jobs.lease_token = input.lease_token
    AND jobs.lease_expires_at > now()
    AND EXISTS (SELECT 1 FROM ${PGBOSS_SCHEMA}.job p WHERE ${FENCE.replaceAll('j.', 'jobs.')})
  RETURNING jobs.*
),
a AS (
  UPDATE job_attempts t SET finished_at = now(), outcome = 'completed' FROM j WHERE ${THIS_ATTEMPT}
),
b AS (
  UPDATE ${PGBOSS_SCHEMA}.job p SET state = 'completed', completed_on = now() FROM j WHERE ${FENCE} RETURNING p.id
)
SELECT ${JOB_COLUMNS} FROM j
WHERE ai_assert((SELECT count(*) FROM b) = (SELECT count(*) FROM j), 'pg-boss job not active')`;

export interface Completion {
  id: string;
  lease_token: string;
  result: Record<string, unknown>;
}

/** Completes the items that hold their lease; returns those jobs (in no particular order). */
export async function completeJobs(db: Queryable, items: Completion[]): Promise<JobRow[]> {
  const { rows } = await db.query({ name: 'complete-jobs', text: COMPLETE, values: [JSON.stringify(items)] });
  return rows;
}

export interface Backoff {
  baseMs: number;
  maxMs: number;
}

// Retry delay: retry_after_seconds when the worker gave one, else exponential
// backoff with "equal jitter": half fixed, half random, capped.
const FAIL = `
WITH j AS (
  UPDATE jobs SET
    status = CASE WHEN $4::boolean AND attempts < max_attempts THEN 'pending' ELSE 'failed' END,
    error = $3::jsonb, error_at = now(), updated_at = now(), lease_expires_at = NULL,
    run_after = CASE WHEN $4::boolean AND attempts < max_attempts
      THEN now() + make_interval(secs => COALESCE($5::float8,
        LEAST($7::float8, $6::float8 * 2 ^ (attempts - 1)) * (0.5 + random() / 2) / 1000))
      ELSE run_after END,
    finished_at = CASE WHEN $4::boolean AND attempts < max_attempts THEN NULL ELSE now() END
  WHERE ${HOLDS_LEASE}
  RETURNING *
),
a AS (
  UPDATE job_attempts t SET finished_at = now(), error = $3::jsonb,
    outcome = CASE WHEN j.status = 'pending' THEN 'retried' ELSE 'failed' END
  FROM j WHERE ${THIS_ATTEMPT}
),
b AS (
  UPDATE ${PGBOSS_SCHEMA}.job p SET
    state = (CASE WHEN j.status = 'pending' THEN 'retry' ELSE 'failed' END)::${PGBOSS_SCHEMA}.job_state,
    start_after = CASE WHEN j.status = 'pending' THEN j.run_after ELSE p.start_after END,
    completed_on = CASE WHEN j.status = 'pending' THEN NULL ELSE now() END,
    output = $3::jsonb
  FROM j WHERE ${FENCE} RETURNING p.id
)
SELECT ${JOB_COLUMNS}, ai_assert((SELECT count(*) FROM b) = 1, 'pg-boss job not active') AS ok FROM j`;

export interface FailParams {
  error: { category: string; message: string };
  retryable: boolean;
  retryAfterSeconds?: number;
}

export async function failJob(db: Queryable, id: string, token: string, p: FailParams, backoff: Backoff): Promise<JobRow | undefined> {
  const { rows } = await db.query({
    name: 'fail',
    text: FAIL,
    values: [id, token, JSON.stringify(p.error), p.retryable, p.retryAfterSeconds ?? null, backoff.baseMs, backoff.maxMs],
  });
  if (rows[0]) delete rows[0].ok;
  return rows[0];
}

/**
 * Why a lease call matched nothing: the job's existence, and how the attempt that
 * held this token ended (null while it is still open or if the token never existed).
 */
export async function leaseOutcome(db: Queryable, id: string, token: string): Promise<{ exists: boolean; outcome: string | null }> {
  const { rows } = await db.query(
    `SELECT (SELECT outcome FROM job_attempts WHERE job_id = $1::uuid AND lease_token = $2::uuid) AS outcome
     FROM jobs WHERE id = $1::uuid`,
    [id, token],
  );
  return rows[0] ? { exists: true, outcome: rows[0].outcome } : { exists: false, outcome: null };
}
