// Adopting what pg-boss's own tools did. Triggers on pgboss.job note every change
// made outside the service (migration 004); the leader reads the notes in bounded
// batches and makes `jobs` agree with pg-boss, so ops can use pg-boss's API and
// dashboard on our queues without breaking the service:
//
// pg-boss row                         job becomes       recorded as
// cancelled (cancel)                  cancelled         cancelled_in_pgboss
// deleted (deleteJob)                 cancelled*        deleted_in_pgboss (the row is recreated)
// created/retry (resume, retry, fail) pending           retried_in_pgboss
// active (fetch, work)                running           fetched_in_pgboss (worker `pg-boss`)
// completed (complete)                completed         completed_in_pgboss (result = output if an object)
// failed (fail, no retries left)      failed            failed_in_pgboss
// new row (send, insert)              a new job         sent_in_pgboss, when `data` carries the job contract
//
// * a finished job deleted in pg-boss keeps its status; only its pg-boss row comes back.
//
// Each adoption closes the job's open attempt or adds a history entry (outcome
// `adopted`, error category as above), fires webhooks through the jobs triggers
// like any transition, and is logged and counted by the caller.
import type { Pool, PoolClient, Queryable } from '../db/pool.ts';
import { withTransaction } from '../db/pool.ts';
import { BACKSTOP_EXPIRE_SECONDS, BOSS_JOB, bossRowOf, bossStateOf } from '../pgboss/mirror.ts';

export interface Adoption {
  id: string;
  queue: string;
  action: string;
  from_status: string | null;
  to_status: string;
}

export interface AdoptionPass {
  adopted: Adoption[];
  /** pg-boss rows in our queues without the job contract: reported, never touched. */
  foreign: { id: string; queue: string }[];
  /** Notes read (each change of a job in pg-boss is one). */
  notes: number;
}

const TAKE_NOTES = `
DELETE FROM pgboss_changes WHERE seq IN (SELECT seq FROM pgboss_changes ORDER BY seq LIMIT $1::int FOR UPDATE SKIP LOCKED)
RETURNING queue, job_id`;

// New rows sent through pg-boss into one of our queues. The contract is the create
// API's: owner_service a slug, owner_ref 1-512 characters without control characters,
// input an object, priority an integer -1000..1000 when given.
const ADOPT_SENT = `
WITH cand AS (
  SELECT p.id, p.name, p.data, p.retry_limit, p.start_after, p.created_on, q.task_type, q.model_profile
  -- by (name, id), pg-boss's primary key: an id alone cannot use it (a scan of pgboss.job)
  FROM unnest($1::text[], $2::uuid[]) AS n (queue, id)
  JOIN ${BOSS_JOB} p ON p.name = n.queue AND p.id = n.id
  JOIN job_queues q ON q.name = p.name
  WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = p.id)
),
valid AS (
  SELECT * FROM cand
  WHERE jsonb_typeof(data -> 'owner_service') = 'string' AND data ->> 'owner_service' ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'
    AND jsonb_typeof(data -> 'owner_ref') = 'string' AND length(data ->> 'owner_ref') BETWEEN 1 AND 512
    AND data ->> 'owner_ref' !~ '[[:cntrl:]]'
    AND jsonb_typeof(data -> 'input') = 'object'
    AND (data -> 'priority' IS NULL OR (jsonb_typeof(data -> 'priority') = 'number'
         AND data ->> 'priority' ~ '^-?[0-9]{1,4}$' AND (data ->> 'priority')::int BETWEEN -1000 AND 1000))
),
inserted AS (
  INSERT INTO jobs (id, owner_service, owner_ref, task_type, model_profile, status, priority, input, max_attempts,
                    run_after, created_at)
  SELECT id, data ->> 'owner_service', data ->> 'owner_ref', task_type, model_profile, 'pending',
         COALESCE((data ->> 'priority')::int, 0), data -> 'input', retry_limit + 1, start_after, created_on
  FROM valid
  ON CONFLICT (id) DO NOTHING
  RETURNING id
)
SELECT c.id, c.name AS queue, c.id IN (SELECT id FROM inserted) AS adopted FROM cand c`;

const LOCK_JOBS = `SELECT id FROM jobs WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`;

// Runs after LOCK_JOBS, in a statement of its own, so it reads pg-boss's rows as
// they are now: our own writers lock the jobs row first and cannot move them meanwhile.
const ADOPT_STATES = `
WITH pair AS (
  SELECT j.id, j.queue, j.status, j.attempts, j.max_attempts, j.lease_token, j.run_after, j.owner_service, j.owner_ref,
         p.id AS boss_id, p.state::text AS state, p.retry_count, p.output, p.start_after, p.started_on, p.expire_seconds
  FROM jobs j LEFT JOIN ${BOSS_JOB} p ON ${bossRowOf('p', 'j')}
  WHERE j.id = ANY($1::uuid[])
),
adopt AS (
  SELECT pair.*, gen_random_uuid() AS token,
    CASE WHEN boss_id IS NULL THEN (CASE WHEN status IN ('pending', 'running') THEN 'cancelled' ELSE status END)
         WHEN state IN ('created', 'retry') THEN 'pending'
         WHEN state = 'active' THEN 'running'
         ELSE state END AS to_status,
    CASE WHEN boss_id IS NULL THEN 'deleted_in_pgboss'
         WHEN state IN ('created', 'retry') THEN 'retried_in_pgboss'
         ELSE state || '_in_pgboss' END AS action,
    -- pg-boss completed the attempt the job is running under: that attempt completed it
    (status = 'running' AND state = 'completed' AND retry_count = attempts - 1) AS same_attempt,
    CASE WHEN state = 'active' THEN GREATEST(started_on + make_interval(secs => expire_seconds), now() + interval '1 minute') END
      AS lease_end
  FROM pair
  WHERE boss_id IS NULL OR NOT (
       (status = 'pending' AND state IN ('created', 'retry') AND start_after = run_after)
    OR (status = 'running' AND state = 'active' AND retry_count = attempts - 1)
    OR (status IN ('completed', 'failed', 'cancelled') AND state = status))
),
adopt_err AS (
  SELECT adopt.*, jsonb_build_object('category', action, 'message', CASE
      WHEN action = 'failed_in_pgboss' AND jsonb_typeof(output -> 'message') = 'string' THEN left(output ->> 'message', 4000)
      WHEN boss_id IS NULL THEN 'the job was deleted through pg-boss'
      ELSE format('pg-boss moved the job to %s', state) END) AS err
  FROM adopt
),
closed AS (
  UPDATE job_attempts t SET finished_at = now(),
    outcome = CASE WHEN a.same_attempt THEN 'completed' ELSE 'adopted' END,
    error = CASE WHEN a.same_attempt THEN NULL ELSE a.err END
  FROM adopt_err a WHERE a.status = 'running' AND t.job_id = a.id AND t.lease_token = a.lease_token AND t.outcome IS NULL
),
history AS (
  INSERT INTO job_attempts (job_id, attempt, worker_id, lease_token, lease_expires_at, finished_at, outcome, error)
  SELECT id, CASE WHEN to_status = 'running' THEN retry_count + 1 ELSE attempts END, 'pg-boss', token,
         COALESCE(lease_end, now()),
         CASE WHEN to_status = 'running' THEN NULL ELSE now() END,
         CASE WHEN to_status = 'running' THEN NULL WHEN to_status = 'completed' THEN 'completed' ELSE 'adopted' END,
         CASE WHEN to_status IN ('running', 'completed') THEN NULL ELSE err END
  -- a running job's closed attempt already records the adoption, unless a new attempt starts or completes it
  FROM adopt_err WHERE status <> 'running' OR (to_status IN ('running', 'completed') AND NOT same_attempt)
),
recreated AS (
  INSERT INTO ${BOSS_JOB} (id, name, data, priority, state, retry_limit, retry_count, expire_seconds, deletion_seconds,
                          keep_until, start_after, created_on, completed_on, policy)
  SELECT a.id, a.queue, jsonb_build_object('owner_service', a.owner_service, 'owner_ref', a.owner_ref), j.priority,
         ${bossStateOf('a.to_status')}, j.max_attempts - 1, GREATEST(j.attempts - 1, 0), ${BACKSTOP_EXPIRE_SECONDS}, 0, 'infinity',
         j.run_after, j.created_at, now(), 'standard'
  FROM adopt_err a JOIN jobs j ON j.id = a.id
  WHERE a.boss_id IS NULL
),
updated AS (
  UPDATE jobs SET
    status = a.to_status,
    attempts = CASE WHEN a.to_status = 'running' THEN a.retry_count + 1 ELSE jobs.attempts END,
    max_attempts = GREATEST(jobs.max_attempts, CASE WHEN a.to_status = 'running' THEN a.retry_count + 1
                                                    WHEN a.to_status = 'pending' THEN jobs.attempts + 1
                                                    ELSE jobs.attempts END),
    worker_id = CASE WHEN a.to_status = 'running' THEN 'pg-boss' ELSE jobs.worker_id END,
    lease_token = CASE WHEN a.same_attempt THEN jobs.lease_token ELSE a.token END,
    lease_seconds = CASE WHEN a.to_status = 'running' THEN a.expire_seconds ELSE jobs.lease_seconds END,
    lease_expires_at = a.lease_end,
    started_at = CASE WHEN a.to_status = 'running' THEN a.started_on ELSE jobs.started_at END,
    run_after = CASE WHEN a.to_status = 'pending' THEN a.start_after ELSE jobs.run_after END,
    result = CASE WHEN a.to_status <> 'completed' OR a.status = 'completed' THEN jobs.result
                  WHEN jsonb_typeof(a.output) = 'object' THEN a.output END,
    error = CASE WHEN a.to_status IN ('failed', 'cancelled') AND a.status <> a.to_status THEN a.err ELSE jobs.error END,
    error_at = CASE WHEN a.to_status IN ('failed', 'cancelled') AND a.status <> a.to_status THEN now() ELSE jobs.error_at END,
    finished_at = CASE WHEN a.to_status IN ('completed', 'failed', 'cancelled')
                       THEN (CASE WHEN a.status = a.to_status THEN jobs.finished_at ELSE now() END) END,
    updated_at = now()
  FROM adopt_err a WHERE jobs.id = a.id
  RETURNING jobs.id
)
SELECT id, queue, action, status AS from_status, to_status FROM adopt_err`;

/** Adopts the noted rows that were sent through pg-boss (no `jobs` row yet); reports foreign ones. */
export async function adoptSent(
  db: Queryable,
  notes: { queue: string; job_id: string }[],
): Promise<{ rows: { id: string; queue: string; adopted: boolean }[] }> {
  const pairs = [...new Map(notes.map((n) => [`${n.queue}\n${n.job_id}`, n])).values()];
  return db.query(ADOPT_SENT, [pairs.map((n) => n.queue), pairs.map((n) => n.job_id)]);
}

/** One pass over at most `batch` notes, in one transaction. */
export async function adoptPgbossChanges(pool: Pool, batch: number): Promise<AdoptionPass> {
  return withTransaction(pool, async (client: PoolClient) => {
    const notes = await client.query<{ queue: string; job_id: string }>(TAKE_NOTES, [batch]);
    if (!notes.rows.length) return { adopted: [], foreign: [], notes: 0 };
    const ids = [...new Set(notes.rows.map((n) => n.job_id))];
    const sent = await adoptSent(client, notes.rows);
    await client.query(LOCK_JOBS, [ids]);
    const { rows } = await client.query<Adoption>(ADOPT_STATES, [ids]);
    const sentIds = new Set(sent.rows.filter((r) => r.adopted).map((r) => r.id));
    const adopted = [
      ...sent.rows
        .filter((r) => r.adopted)
        .map((r) => ({ id: r.id, queue: r.queue, action: 'sent_in_pgboss', from_status: null, to_status: 'pending' })),
      ...rows.map((r) => (sentIds.has(r.id) ? { ...r, from_status: null } : r)),
    ];
    return { adopted, foreign: sent.rows.filter((r) => !r.adopted), notes: notes.rows.length };
  });
}
