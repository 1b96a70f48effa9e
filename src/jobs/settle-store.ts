// Worker calls on a held lease: heartbeat, complete, fail. Each is ONE statement
// that judges every input item, changes `jobs`, the attempt record and the pg-boss
// row of the items that hold their lease, and returns an outcome for every item
// (with the job where there is one), so a miss needs no follow-up query.
//
// Shape of each statement (as River's JobSetStateIfRunningMany):
//   locked: the jobs rows, locked FOR UPDATE in id order. Two calls over the same
//           jobs wait for each other in one global order instead of deadlocking.
//           Under READ COMMITTED a locked row is its newest committed version, so
//           an item that waited on another settle is judged on what that one left.
//   judged: one outcome per item, decided once from the locked row.
//   j/a/b:  the writes, for the items judged to change.
// A lease is held when the token is current, unexpired, and pg-boss holds the job
// at the same attempt (bossFence): a job pg-boss's backstop expiry moved matches
// nothing, so the worker gets 409 and the reaper reconciles the row.
import type { Queryable } from '../db/pool.ts';
import { bossFollow, bossHeartbeat, bossHoldsAttempt, bothStoresMoved } from '../pgboss/mirror.ts';
import { JOB_COLUMNS, type JobRow } from './job-row.ts';

/** SQL: locked job row `l` is held by lease token `token`. The one place that decides it. */
export function holdsLease(l: string, token: string): string {
  return `${l}.status = 'running' AND ${l}.lease_token = ${token} AND ${l}.lease_expires_at > now() AND ${bossHoldsAttempt(l)}`;
}

/**
 * Failure categories that measure the infrastructure, not the job: a retryable
 * failure in one of them gives the attempt back (a deferral) while the job has
 * deferrals left. Listed in openapi.yaml (FailRequest.category).
 */
export const INFRASTRUCTURE_CATEGORIES = ['provider_unavailable', 'rate_limited', 'worker_shutdown'] as const;

/** SQL: job row `j`'s failure in `category` (an SQL text expression) is deferred: it does not count as an attempt. */
export function willDefer(j: string, retryable: string, category: string): string {
  const infra = INFRASTRUCTURE_CATEGORIES.map((c) => `'${c}'`).join(', ');
  return `(${retryable} AND ${category} IN (${infra}) AND ${j}.deferrals < ${j}.max_deferrals)`;
}

/**
 * SQL: job row `j` goes back to pending after a failure: it is retryable and has
 * attempts left, or the failure is deferred (`category` given: a worker's fail;
 * the reaper's lease_expired always counts). The one place that decides it.
 */
export function willRetry(j: string, retryable = 'true', category?: string): string {
  const counted = `(${retryable} AND ${j}.attempts < ${j}.max_attempts)`;
  return category ? `(${willDefer(j, retryable, category)} OR ${counted})` : counted;
}

// The attempt row of the lease being used.
const THIS_ATTEMPT = `t.job_id = j.id AND t.lease_token = j.lease_token`;

/** The job each item answers with: the changed row, or (a replay) the row as the earlier call left it. */
const ANSWER = `
SELECT judged.id AS item_id, judged.outcome, r.*
FROM judged LEFT JOIN LATERAL (
  SELECT ${JOB_COLUMNS}, traceparent FROM j WHERE j.id = judged.id
  UNION ALL
  SELECT ${JOB_COLUMNS}, traceparent FROM locked WHERE locked.id = judged.id AND judged.outcome = 'replayed'
) r ON true`;

/** `traceparent` (with a job): the trace the job continues (src/tracing), kept out of the job the API answers with. */
export type Settled<O extends string> = { id: string; outcome: O; job?: JobRow; traceparent?: string | null };

function settled<O extends string>(rows: (JobRow & { item_id: string; outcome: O; traceparent: string | null })[]): Settled<O>[] {
  return rows.map(({ item_id, outcome, traceparent, ...job }) =>
    job.id ? { id: item_id, outcome, job: job as JobRow, traceparent } : { id: item_id, outcome, job: undefined },
  );
}

export type HeartbeatOutcome = 'extended' | 'lease_lost' | 'not_found';

const HEARTBEAT = `
WITH locked AS (
  SELECT * FROM jobs WHERE id = $1::uuid FOR UPDATE
),
judged AS (
  SELECT $1::uuid AS id,
    CASE WHEN l.id IS NULL THEN 'not_found' WHEN ${holdsLease('l', '$2::uuid')} THEN 'extended' ELSE 'lease_lost' END AS outcome
  FROM (SELECT) one LEFT JOIN locked l ON true
),
j AS (
  UPDATE jobs SET lease_expires_at = now() + make_interval(secs => COALESCE($3::int, jobs.lease_seconds)), updated_at = now()
  FROM judged WHERE jobs.id = judged.id AND judged.outcome = 'extended'
  RETURNING jobs.id, jobs.queue, jobs.attempts, jobs.lease_token, jobs.lease_expires_at
),
a AS (
  UPDATE job_attempts t SET lease_expires_at = j.lease_expires_at FROM j WHERE ${THIS_ATTEMPT}
),
b AS (${bossHeartbeat('j')})
SELECT judged.outcome, j.lease_expires_at FROM judged LEFT JOIN j ON true
WHERE ${bothStoresMoved('b', 'j', 'heartbeat')}`;

export async function heartbeat(
  db: Queryable,
  id: string,
  token: string,
  leaseSeconds: number | undefined,
): Promise<{ outcome: HeartbeatOutcome; lease_expires_at: string | null }> {
  const { rows } = await db.query({ name: 'heartbeat', text: HEARTBEAT, values: [id, token, leaseSeconds ?? null] });
  return rows[0];
}

export type CompleteOutcome = 'completed' | 'replayed' | 'lease_lost' | 'not_found';

// A replay: the job was completed by this same lease (completed is final, and the
// token stays on the row), so a repeated complete is answered with that job.
const COMPLETE = `
WITH input AS (
  SELECT * FROM json_to_recordset($1::json) AS x (id uuid, lease_token uuid, result jsonb)
),
locked AS (
  SELECT * FROM jobs WHERE id IN (SELECT id FROM input) ORDER BY id FOR UPDATE
),
judged AS (
  SELECT i.id, i.result,
    CASE WHEN l.id IS NULL THEN 'not_found'
         WHEN ${holdsLease('l', 'i.lease_token')} THEN 'completed'
         WHEN l.status = 'completed' AND l.lease_token = i.lease_token THEN 'replayed'
         ELSE 'lease_lost' END AS outcome
  FROM input i LEFT JOIN locked l ON l.id = i.id
),
j AS (
  UPDATE jobs SET status = 'completed', result = judged.result, error = NULL, finished_at = now(), updated_at = now(),
    lease_expires_at = NULL
  FROM judged WHERE jobs.id = judged.id AND judged.outcome = 'completed'
  RETURNING jobs.*
),
a AS (
  UPDATE job_attempts t SET finished_at = now(), outcome = 'completed' FROM j WHERE ${THIS_ATTEMPT}
),
b AS (${bossFollow('j', { fenced: true })})
${ANSWER}
WHERE ${bothStoresMoved('b', 'j', 'complete')}`;

export interface Completion {
  id: string;
  lease_token: string;
  result: Record<string, unknown>;
}

/** Judges and completes every item in one statement; one outcome per item (in no particular order). */
export async function completeJobs(db: Queryable, items: Completion[]): Promise<Settled<CompleteOutcome>[]> {
  const { rows } = await db.query({ name: 'complete-jobs', text: COMPLETE, values: [JSON.stringify(items)] });
  return settled(rows);
}

export interface Backoff {
  baseMs: number;
  maxMs: number;
}

export type FailOutcome = 'failed' | 'retried' | 'deferred' | 'replayed' | 'lease_lost' | 'not_found';

// A replay: the attempt of this token ended failed, retried or deferred (a fail by
// the same lease). The attempt row is read FOR SHARE so that, like the locked job
// row, it is the newest committed version when this call waited on that earlier fail.
// A deferral gives the attempt back (attempts - 1) and counts a deferral instead;
// the pg-boss row is fenced at the attempt it was held at, and the next claim sets
// its retry_count from attempts again, so the fence stays retry_count = attempts - 1.
// Retry delay: retry_after_seconds when the worker gave one, else exponential
// backoff with "equal jitter": half fixed, half random, capped; its exponent is the
// attempt for a counted failure and the deferral count for a deferred one.
const FAIL = `
WITH locked AS (
  SELECT * FROM jobs WHERE id = $1::uuid FOR UPDATE
),
judged AS (
  SELECT $1::uuid AS id,
    CASE WHEN l.id IS NULL THEN 'not_found'
         WHEN ${holdsLease('l', '$2::uuid')} THEN
           CASE WHEN ${willDefer('l', '$4::boolean', "($3::jsonb ->> 'category')")} THEN 'deferred'
                WHEN ${willRetry('l', '$4::boolean', "($3::jsonb ->> 'category')")} THEN 'retried'
                ELSE 'failed' END
         WHEN (SELECT t.outcome FROM job_attempts t WHERE t.job_id = l.id AND t.lease_token = $2::uuid FOR SHARE)
              IN ('failed', 'retried', 'deferred') THEN 'replayed'
         ELSE 'lease_lost' END AS outcome
  FROM (SELECT) one LEFT JOIN locked l ON true
),
j AS (
  UPDATE jobs SET
    status = CASE WHEN judged.outcome = 'failed' THEN 'failed' ELSE 'pending' END,
    attempts = CASE WHEN judged.outcome = 'deferred' THEN jobs.attempts - 1 ELSE jobs.attempts END,
    deferrals = CASE WHEN judged.outcome = 'deferred' THEN jobs.deferrals + 1 ELSE jobs.deferrals END,
    error = $3::jsonb, error_at = now(), updated_at = now(), lease_expires_at = NULL,
    run_after = CASE WHEN judged.outcome = 'failed' THEN jobs.run_after
      ELSE now() + make_interval(secs => COALESCE($5::float8,
        LEAST($7::float8, $6::float8 * 2 ^ (CASE WHEN judged.outcome = 'deferred' THEN jobs.deferrals ELSE jobs.attempts - 1 END))
          * (0.5 + random() / 2) / 1000)) END,
    finished_at = CASE WHEN judged.outcome = 'failed' THEN now() ELSE NULL END
  FROM judged WHERE jobs.id = judged.id AND judged.outcome IN ('failed', 'retried', 'deferred')
  RETURNING jobs.*, judged.outcome, jobs.attempts + (judged.outcome = 'deferred')::int AS held_attempt
),
a AS (
  UPDATE job_attempts t SET finished_at = now(), error = $3::jsonb, outcome = j.outcome
  FROM j WHERE ${THIS_ATTEMPT}
),
b AS (${bossFollow('j', { fenced: true, output: '$3::jsonb', heldAttempt: 'j.held_attempt' })})
${ANSWER}
WHERE ${bothStoresMoved('b', 'j', 'fail')}`;

export interface FailParams {
  error: { category: string; message: string };
  retryable: boolean;
  retryAfterSeconds?: number;
}

export async function failJob(db: Queryable, id: string, token: string, p: FailParams, backoff: Backoff): Promise<Settled<FailOutcome>> {
  const { rows } = await db.query({
    name: 'fail',
    text: FAIL,
    values: [id, token, JSON.stringify(p.error), p.retryable, p.retryAfterSeconds ?? null, backoff.baseMs, backoff.maxMs],
  });
  return settled<FailOutcome>(rows)[0];
}
