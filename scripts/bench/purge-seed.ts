// Bulk-writes jobs straight into both stores in the shape the service's own
// statements leave them (src/jobs/create-store.ts, claim-store.ts, settle-store.ts):
// a `jobs` row, its pg-boss row with the matching state, and, for finished jobs, one
// job_attempts row. Used by the purge benchmark and the retention tests to build
// backlogs of a size the API would take minutes to produce. The queue must already
// exist (created through the service or QueueRegistry). Timestamps are set `ageSeconds`
// in the past, so the rows are as old as the caller needs.
import type { Queryable } from '../../src/db/pool.ts';

export type SeedStatus = 'pending' | 'completed' | 'failed' | 'cancelled';

export interface SeedOptions {
  taskType: string;
  modelProfile: string;
  status: SeedStatus;
  count: number;
  /** How long ago the jobs finished (or, for pending, were created). */
  ageSeconds: number;
}

const CHUNK_ROWS = 50_000;

const BOSS_STATE: Record<SeedStatus, string> = { pending: 'created', completed: 'completed', failed: 'failed', cancelled: 'cancelled' };

// $1 task_type, $2 model_profile, $3 status, $4 pg-boss state, $5 count, $6 age seconds.
// A finished job ran for one second, one attempt, and finished $6 seconds ago.
const SEED = `
WITH g AS (
  SELECT uuidv7(make_interval(secs => -$6::float8 - 1)) AS id, i,
         now() - make_interval(secs => $6::float8) AS at
  FROM generate_series(1, $5::int) AS i
),
j AS (
  INSERT INTO jobs (id, owner_service, owner_ref, task_type, model_profile, status, input, result, error, error_at,
                    attempts, request_hash, worker_id, lease_token, lease_seconds, run_after,
                    created_at, updated_at, started_at, finished_at)
  SELECT id, 'bench', 'seed/' || i, $1::text, $2::text, $3::text,
         jsonb_build_object('prompt', 'Summarise the call.', 'call_id', i),
         CASE WHEN $3::text = 'completed' THEN jsonb_build_object('content', 'The caller asked about a refund.', 'tokens', 42) END,
         CASE WHEN $3::text = 'failed' THEN jsonb_build_object('category', 'provider_error', 'message', 'upstream 500') END,
         CASE WHEN $3::text = 'failed' THEN at END,
         CASE WHEN $3::text = 'pending' THEN 0 ELSE 1 END, md5(i::text),
         CASE WHEN $3::text = 'pending' THEN NULL ELSE 'seed-worker' END,
         CASE WHEN $3::text = 'pending' THEN NULL ELSE gen_random_uuid() END,
         CASE WHEN $3::text = 'pending' THEN NULL ELSE 300 END,
         at - interval '1 second', at - interval '1 second', at,
         CASE WHEN $3::text = 'pending' THEN NULL ELSE at - interval '1 second' END,
         CASE WHEN $3::text = 'pending' THEN NULL ELSE at END
  FROM g
  RETURNING id, queue, status, attempts, worker_id, lease_token, started_at, finished_at, created_at, run_after, error
),
a AS (
  INSERT INTO job_attempts (job_id, attempt, worker_id, lease_token, claimed_at, lease_expires_at, finished_at, outcome, error)
  SELECT id, 1, worker_id, lease_token, started_at, started_at + interval '300 seconds', finished_at,
         CASE WHEN status = 'failed' THEN 'failed' ELSE status END, error
  FROM j WHERE status <> 'pending'
)
INSERT INTO pgboss.job (id, name, data, priority, state, retry_limit, retry_count, expire_seconds, deletion_seconds,
                        keep_until, start_after, created_on, started_on, completed_on, policy, output)
SELECT id, queue, jsonb_build_object('owner_service', 'bench', 'owner_ref', 'seed'), 0, $4::pgboss.job_state, 2, 0, 86400, 0,
       'infinity', run_after, created_at, started_at, finished_at, 'standard', error
FROM j`;

/** Inserts `count` jobs in chunks (each its own transaction); returns the number written. */
export async function seedJobs(db: Queryable, o: SeedOptions): Promise<number> {
  let done = 0;
  while (done < o.count) {
    const n = Math.min(CHUNK_ROWS, o.count - done);
    await db.query(SEED, [o.taskType, o.modelProfile, o.status, BOSS_STATE[o.status], n, o.ageSeconds]);
    done += n;
  }
  return done;
}
