// The lease reaper (run by the leader replica every REAPER_INTERVAL): jobs whose
// lease ran out go back to pending with error `lease_expired`, counting the attempt,
// or to failed when no attempts are left; both stores in one statement.
//
// Anything that moves a job's pg-boss row behind our back (pg-boss's backstop expiry,
// its API, its dashboard) is adopted by the leader's adoption pass (adoption.ts),
// on its own schedule, so a slow or failing adoption never holds up the reaper.
import type { Queryable } from '../db/pool.ts';
import { bossFollow, schemasServeThisReplica } from '../pgboss/mirror.ts';
import type { JobEvents } from './events.ts';
import { willRetry } from './settle-store.ts';

export const LEASE_EXPIRED_ERROR = { category: 'lease_expired', message: 'the lease expired before the job was completed' };

// The pg-boss row follows unfenced: our row decides, whatever pg-boss did meanwhile
// (its backstop expiry may have moved it), and no assert, so a drifted row is repaired
// rather than blocking the reaper.
//
// Expired leases are found through the open attempt's lease (job_attempts keeps it
// equal to the job's at claim and heartbeat; job_attempts_open_lease_idx, migration
// 008): `jobs` has no index on a lease field, so heartbeats there are HOT updates.
//
// `due` reads that index alone, oldest lease first, and stops after `batch` entries. As
// one join, the planner could not tell that open attempts' leases lie in the future
// (the column's statistics are mostly finished attempts' past leases): at 10 M jobs it
// read all 50,000 running jobs instead, 146-660 ms every tick. An open attempt whose job
// no longer holds its lease (a stray, which check:consistency reports) takes a place in
// the batch without being settled.
const REAP = `
WITH due AS MATERIALIZED (
  SELECT job_id, lease_token, lease_expires_at FROM job_attempts
  WHERE outcome IS NULL AND lease_expires_at <= now()
  ORDER BY lease_expires_at LIMIT $1::int
),
expired AS (
  SELECT jobs.id FROM due JOIN jobs ON jobs.id = due.job_id AND jobs.lease_token = due.lease_token
  WHERE jobs.status = 'running' AND jobs.lease_expires_at <= now()
  ORDER BY due.lease_expires_at FOR UPDATE OF jobs SKIP LOCKED
),
j AS (
  UPDATE jobs SET
    status = CASE WHEN ${willRetry('jobs')} THEN 'pending' ELSE 'failed' END,
    error = $2::jsonb, error_at = now(), run_after = now(), lease_expires_at = NULL, updated_at = now(),
    finished_at = CASE WHEN ${willRetry('jobs')} THEN NULL ELSE now() END
  FROM expired WHERE jobs.id = expired.id
  RETURNING jobs.id, jobs.queue, jobs.task_type, jobs.model_profile, jobs.status, jobs.attempts, jobs.max_attempts,
            jobs.lease_token, jobs.run_after
),
a AS (
  UPDATE job_attempts t SET finished_at = now(), outcome = 'lease_expired', error = $2::jsonb
  FROM j WHERE t.job_id = j.id AND t.lease_token = j.lease_token
),
b AS (${bossFollow('j', { fenced: false, output: '$2::jsonb' })})
SELECT task_type, model_profile, status FROM j WHERE ${schemasServeThisReplica()}`;

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

/**
 * One reaper pass: settle expired leases batch by batch while
 * `keepGoing()`, reporting each batch through the job events as the API does.
 */
export async function reapLeases(db: Queryable, events: JobEvents, keepGoing: () => boolean, batch = 500): Promise<void> {
  for (;;) {
    const reaped = await reapExpiredLeases(db, batch);
    if (reaped.length) events.leaseExpired(reaped);
    if (reaped.length < batch || !keepGoing()) break;
  }
}
