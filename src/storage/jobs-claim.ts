// Claiming: one statement picks the best claimable jobs across every queue of the
// requested model profiles (or task types) from one partial index, locks them with
// SKIP LOCKED (so concurrent claimers on any replica never get the same job), starts
// a new attempt with a fresh lease token, and marks the pg-boss rows active at the
// matching retry_count, the fence pg-boss itself uses.
//
// Order: priority DESC, then id (UUIDv7, so oldest first) across all matching
// queues. Within a priority level that is FIFO over all queues, so no queue can be
// starved by another queue's arrivals.
import type { Queryable } from '../db/pool.ts';
import { PGBOSS_SCHEMA } from '../queue/boss.ts';
import { JOB_COLUMNS, type JobRow } from './job-row.ts';

export interface ClaimParams {
  workerId: string;
  modelProfiles?: string[];
  taskTypes?: string[];
  limit: number;
  leaseSeconds: number;
}

export type ClaimedRow = JobRow & { attempt: number; lease_token: string };

// The leading filter picks the index: by model profile when given, else by task type.
// $1 and $2 are the profile and task-type lists; a variant that ignores one still
// names its type, since PostgreSQL must know every parameter's type.
function claimSql(byProfile: boolean, alsoTaskTypes: boolean): string {
  const filter = byProfile
    ? `model_profile = ANY($1::text[])${alsoTaskTypes ? ' AND task_type = ANY($2::text[])' : ' AND $2::text[] IS NULL'}`
    : 'task_type = ANY($2::text[]) AND $1::text[] IS NULL';
  return `
WITH picked AS (
  SELECT id FROM jobs
  WHERE status = 'pending' AND ${filter} AND run_after <= now()
  ORDER BY priority DESC, id
  LIMIT $3::int
  FOR UPDATE SKIP LOCKED
),
claimed AS (
  UPDATE jobs j
  SET status = 'running', attempts = j.attempts + 1, worker_id = $4::text, lease_token = gen_random_uuid(),
      lease_seconds = $5::int, lease_expires_at = now() + make_interval(secs => $5::int), started_at = now(), updated_at = now()
  FROM picked WHERE j.id = picked.id
  RETURNING j.*
),
boss AS (
  UPDATE ${PGBOSS_SCHEMA}.job p
  SET state = 'active', started_on = now(), heartbeat_on = now(), retry_count = c.attempts - 1
  FROM claimed c
  WHERE p.name = c.queue AND p.id = c.id AND p.state < 'active'
  RETURNING p.id
),
attempt AS (
  INSERT INTO job_attempts (job_id, attempt, worker_id, lease_token, lease_expires_at)
  SELECT id, attempts, worker_id, lease_token, lease_expires_at FROM claimed
)
SELECT ${JOB_COLUMNS}, attempts AS attempt, lease_token,
       ai_assert((SELECT count(*) FROM boss) = (SELECT count(*) FROM claimed), 'claimed jobs missing in pg-boss') AS ok
FROM claimed
ORDER BY priority DESC, id`;
}

const SQL = {
  profile: claimSql(true, false),
  profileAndTask: claimSql(true, true),
  task: claimSql(false, false),
};

export async function claimJobs(db: Queryable, p: ClaimParams): Promise<ClaimedRow[]> {
  const sql = p.modelProfiles ? (p.taskTypes ? SQL.profileAndTask : SQL.profile) : SQL.task;
  const { rows } = await db.query({
    text: sql,
    values: [p.modelProfiles ?? null, p.taskTypes ?? null, p.limit, p.workerId, p.leaseSeconds],
  });
  for (const r of rows) delete r.ok;
  return rows;
}
