// The lease reaper (run by the leader replica every REAPER_INTERVAL): jobs whose
// lease ran out go back to pending with error `lease_expired`, counting the attempt,
// or to failed when no attempts are left; both stores in one statement.
//
// It also reconciles: if pg-boss's own backstop expiry (or anything else) moved a
// job we hold as running, the lease is ended now so the reaper settles it our way.
import type { Queryable } from '../db/pool.ts';
import { PGBOSS_SCHEMA } from '../pgboss/boss.ts';

export const LEASE_EXPIRED_ERROR = { category: 'lease_expired', message: 'the lease expired before the job was completed' };

const REAP = `
WITH expired AS (
  SELECT id FROM jobs WHERE status = 'running' AND lease_expires_at <= now()
  ORDER BY lease_expires_at LIMIT $1::int FOR UPDATE SKIP LOCKED
),
j AS (
  UPDATE jobs SET
    status = CASE WHEN attempts < max_attempts THEN 'pending' ELSE 'failed' END,
    error = $2::jsonb, error_at = now(), run_after = now(), lease_expires_at = NULL, updated_at = now(),
    finished_at = CASE WHEN attempts < max_attempts THEN NULL ELSE now() END
  FROM expired WHERE jobs.id = expired.id
  RETURNING jobs.id, jobs.queue, jobs.task_type, jobs.model_profile, jobs.status, jobs.lease_token, jobs.run_after
),
a AS (
  UPDATE job_attempts t SET finished_at = now(), outcome = 'lease_expired', error = $2::jsonb
  FROM j WHERE t.job_id = j.id AND t.lease_token = j.lease_token
),
b AS (
  UPDATE ${PGBOSS_SCHEMA}.job p SET
    state = (CASE WHEN j.status = 'pending' THEN 'retry' ELSE 'failed' END)::${PGBOSS_SCHEMA}.job_state,
    start_after = j.run_after, output = $2::jsonb,
    completed_on = CASE WHEN j.status = 'pending' THEN NULL ELSE now() END
  FROM j WHERE p.name = j.queue AND p.id = j.id
)
SELECT task_type, model_profile, status FROM j`;

export interface ReapedJob {
  task_type: string;
  model_profile: string;
  status: 'pending' | 'failed';
}

/** Settles up to `batch` expired leases; returns what happened to each. */
export async function reapExpiredLeases(db: Queryable, batch = 500): Promise<ReapedJob[]> {
  const { rows } = await db.query(REAP, [batch, JSON.stringify(LEASE_EXPIRED_ERROR)]);
  return rows;
}

// Running jobs whose pg-boss row is no longer active at the same attempt.
const RECONCILE = `
UPDATE jobs j SET lease_expires_at = now()
FROM ${PGBOSS_SCHEMA}.job p
WHERE j.status = 'running' AND p.name = j.queue AND p.id = j.id
  AND (p.state <> 'active' OR p.retry_count <> j.attempts - 1)
RETURNING j.id`;

export async function reconcileRunning(db: Queryable): Promise<number> {
  const { rowCount } = await db.query(RECONCILE);
  return rowCount ?? 0;
}
