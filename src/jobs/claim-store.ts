// Claiming: one statement picks the best claimable jobs across every queue of the
// requested model profiles and/or task types, locks them with SKIP LOCKED (so
// concurrent claimers on any replica never get the same job), starts a new attempt
// with a fresh lease token, and marks the pg-boss rows active at the matching
// retry_count, the fence pg-boss itself uses.
//
// Order: priority DESC, then id (UUIDv7, so oldest first) across all matching
// queues. Within a priority level that is FIFO over all queues, so no queue can be
// starved by another queue's arrivals.
//
// Plan: the matching queues come from `job_queues` (a few rows); for each, a LATERAL
// subquery reads at most `limit` rows of jobs_claim_idx (queue, priority DESC, id) in
// index order, locking as it goes; the per-queue heads are merged and cut to `limit`.
// The cost is bounded by queues × limit index entries, never by the number of
// pending jobs. Rows locked in a queue but cut by the merge are released when the
// statement commits; a concurrent claimer skips them meanwhile, which costs it order,
// never correctness.
import type { Queryable } from '../db/pool.ts';
import { BOSS_JOB, bossRowOf, bossStart, bothStoresMoved } from '../pgboss/mirror.ts';
import { JOB_COLUMNS, type JobRow } from './job-row.ts';

export interface ClaimParams {
  workerId: string;
  modelProfiles?: string[];
  taskTypes?: string[];
  limit: number;
  leaseSeconds: number;
}

/** `traceparent`: the trace the job continues, for the worker to carry on (src/tracing). */
export type ClaimedRow = JobRow & { attempt: number; lease_token: string; traceparent: string | null };

const CLAIM = `
WITH queues AS (
  SELECT name FROM job_queues
  WHERE ($1::text[] IS NULL OR model_profile = ANY($1::text[]))
    AND ($2::text[] IS NULL OR task_type = ANY($2::text[]))
),
picked AS (
  SELECT h.id, h.priority FROM queues q CROSS JOIN LATERAL (
    SELECT j.id, j.priority FROM jobs j
    -- a job whose pg-boss row is no longer queued (fetched, cancelled or deleted through
    -- pg-boss's own tools) is skipped until the adoption pass settles it; locking the
    -- pg-boss row too keeps it queued until this claim commits
    JOIN ${BOSS_JOB} p ON ${bossRowOf('p', 'j')} AND p.state < 'active'
    WHERE j.queue = q.name AND j.status = 'pending' AND j.run_after <= now()
      AND (j.start_before IS NULL OR j.start_before > now())
    ORDER BY j.priority DESC, j.id
    LIMIT $3::int
    FOR UPDATE OF j, p SKIP LOCKED
  ) h
  ORDER BY h.priority DESC, h.id
  LIMIT $3::int
),
claimed AS (
  UPDATE jobs j
  SET status = 'running', attempts = j.attempts + 1, worker_id = $4::text, lease_token = gen_random_uuid(),
      lease_seconds = $5::int, lease_expires_at = now() + make_interval(secs => $5::int), started_at = now(), updated_at = now()
  FROM picked WHERE j.id = picked.id
  RETURNING j.*
),
boss AS (${bossStart('claimed')}),
attempt AS (
  INSERT INTO job_attempts (job_id, attempt, worker_id, lease_token, lease_expires_at)
  SELECT id, attempts, worker_id, lease_token, lease_expires_at FROM claimed
)
SELECT ${JOB_COLUMNS}, attempts AS attempt, lease_token, traceparent
FROM claimed
WHERE ${bothStoresMoved('boss', 'claimed', 'claim')}
ORDER BY priority DESC, id`;

export async function claimJobs(db: Queryable, p: ClaimParams): Promise<ClaimedRow[]> {
  const { rows } = await db.query({
    name: 'claim',
    text: CLAIM,
    values: [p.modelProfiles ?? null, p.taskTypes ?? null, p.limit, p.workerId, p.leaseSeconds],
  });
  // The consistency check is a WHERE, not a column: no per-row delete (slow objects for res.json).
  return rows;
}
