// The rows a job leaves beside its `jobs` row, derived from that row alone, in the
// shape the service's own statements write them (src/jobs/*-store.ts). The factory
// (one job in any state) and the bulk seeder (millions) both insert `jobs` rows in a
// CTE and finish the statement with these two fragments, so the pg-boss row shape
// follows src/pgboss/mirror.ts (the status → pg-boss state mapping is its bossStateOf).
import { BACKSTOP_EXPIRE_SECONDS, BOSS_JOB, bossStateOf } from '../../src/pgboss/mirror.ts';

/**
 * INSERT of the pgboss.job rows for the `jobs` rows of CTE `jobs`: id = job id,
 * name = queue, retry_limit = max_attempts - 1, retry_count = attempts - 1, and the
 * state the consistency check expects: pending → created (never claimed) or retry,
 * running → active, the finished states by name. RETURNING id.
 */
export function insertBossRows(jobs: string): string {
  return `
  INSERT INTO ${BOSS_JOB} (id, name, data, priority, state, retry_limit, retry_count, expire_seconds,
                                    deletion_seconds, keep_until, start_after, created_on, started_on, heartbeat_on,
                                    completed_on, output, policy)
  SELECT id, queue, jsonb_build_object('owner_service', owner_service, 'owner_ref', owner_ref), priority,
         CASE WHEN status = 'pending' AND attempts = 0 THEN 'created' ELSE ${bossStateOf('status')} END,
         max_attempts - 1, GREATEST(attempts - 1, 0), ${BACKSTOP_EXPIRE_SECONDS}, 0, 'infinity', run_after, created_at,
         started_at, CASE WHEN status = 'running' THEN started_at END,
         CASE WHEN status IN ('completed', 'failed', 'cancelled') THEN finished_at END, error, 'standard'
  FROM ${jobs}
  RETURNING id`;
}

/**
 * INSERT of the attempt log for the `jobs` rows of CTE `jobs`: one row per attempt.
 * The last attempt holds the job's lease token and ends as the status says (open
 * while running); earlier attempts ended `retried` under tokens of their own.
 */
export function insertAttemptRows(jobs: string): string {
  return `
  INSERT INTO job_attempts (job_id, attempt, worker_id, lease_token, claimed_at, lease_expires_at, finished_at, outcome, error)
  SELECT j.id, n.n, j.worker_id, CASE WHEN n.n = j.attempts THEN j.lease_token ELSE gen_random_uuid() END, j.started_at,
         CASE WHEN n.n = j.attempts AND j.status = 'running' THEN j.lease_expires_at
              ELSE j.started_at + make_interval(secs => j.lease_seconds) END,
         CASE WHEN n.n = j.attempts AND j.status = 'running' THEN NULL
              ELSE COALESCE(j.finished_at, j.error_at, j.updated_at) END,
         CASE WHEN n.n < j.attempts THEN 'retried'
              WHEN j.status = 'running' THEN NULL
              WHEN j.status = 'pending' THEN 'retried'
              ELSE j.status END,
         CASE WHEN n.n < j.attempts OR j.status IN ('pending', 'failed') THEN j.error END
  FROM ${jobs} j CROSS JOIN LATERAL generate_series(1, j.attempts) AS n (n)`;
}
