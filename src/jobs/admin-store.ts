// Producer/operator transitions: retry and cancel. Both may act on a running job,
// which revokes its lease: the attempt is closed, so the worker's later calls with
// that token match nothing and get 409. Our row decides: the pg-boss row is set to
// the matching state whatever it was (so these also repair a row pg-boss's backstop
// or its API moved), and a row deleted through pg-boss's API is recreated in that
// state, so neither answers 500 whatever was done to the row outside the service.
//
// Each statement takes many ids (the single endpoints pass one, bulk actions up to
// BULK_CHUNK_MAX) and the statuses the caller accepts; rows are locked in id order,
// and an id whose job is gone, out of scope or in another status is left alone.
import type { Queryable } from '../db/pool.ts';
import { bossFollow, bossRecreate, bothStoresMoved } from '../pgboss/mirror.ts';
import { JOB_COLUMNS, type JobRow } from './job-row.ts';

const RETRY = `
WITH old AS (
  SELECT id, status AS old_status FROM jobs WHERE id = ANY($1::uuid[]) AND status = ANY($5::text[])
    AND status IN ('failed', 'running')
    AND ($4::text[] IS NULL OR owner_service = ANY($4::text[])) -- a producer's scope
  ORDER BY id FOR UPDATE
),
j AS (
  UPDATE jobs SET status = 'pending',
    attempts = CASE WHEN $2::boolean THEN 0 ELSE attempts END,
    deferrals = CASE WHEN $2::boolean THEN 0 ELSE deferrals END,
    -- without a reset, a job with no attempts left gets one more
    max_attempts = CASE WHEN $2::boolean THEN max_attempts ELSE GREATEST(max_attempts, attempts + 1) END,
    run_after = now() + make_interval(secs => $3::int),
    lease_expires_at = NULL, finished_at = NULL, updated_at = now()
  FROM old WHERE jobs.id = old.id
  RETURNING jobs.*, old.old_status
),
a AS (
  UPDATE job_attempts t SET finished_at = now(), outcome = 'revoked'
  FROM j WHERE j.old_status = 'running' AND t.job_id = j.id AND t.outcome IS NULL
),
b AS (${bossFollow('j', { fenced: false })}),
c AS (${bossRecreate('j')}),
moved AS (SELECT id FROM b UNION ALL SELECT id FROM c)
SELECT ${JOB_COLUMNS} FROM j WHERE ${bothStoresMoved('moved', 'j', 'retry')}`;

export const RETRYABLE_STATUSES = ['failed', 'running'];
export const CANCELLABLE_STATUSES = ['pending', 'running'];

/** Retries the jobs among `ids` in one of `statuses` (within the retryable ones); returns those changed. */
export async function retryJobs(
  db: Queryable,
  ids: string[],
  p: { resetAttempts: boolean; delaySeconds: number; owners?: string[]; statuses?: string[] },
): Promise<JobRow[]> {
  const { rows } = await db.query({
    name: 'retry-jobs',
    text: RETRY,
    values: [ids, p.resetAttempts, p.delaySeconds, p.owners ?? null, p.statuses ?? RETRYABLE_STATUSES],
  });
  return rows;
}

export async function retryJob(
  db: Queryable,
  id: string,
  resetAttempts: boolean,
  delaySeconds: number,
  owners?: string[],
): Promise<JobRow | undefined> {
  return (await retryJobs(db, [id], { resetAttempts, delaySeconds, owners }))[0];
}

const CANCEL = `
WITH old AS (
  SELECT id, status AS old_status FROM jobs WHERE id = ANY($1::uuid[]) AND status = ANY($3::text[])
    AND status IN ('pending', 'running')
    AND ($2::text[] IS NULL OR owner_service = ANY($2::text[])) -- a producer's scope
  ORDER BY id FOR UPDATE
),
j AS (
  UPDATE jobs SET status = 'cancelled', lease_expires_at = NULL, finished_at = now(), updated_at = now()
  FROM old WHERE jobs.id = old.id
  RETURNING jobs.*, old.old_status
),
a AS (
  UPDATE job_attempts t SET finished_at = now(), outcome = 'cancelled'
  FROM j WHERE j.old_status = 'running' AND t.job_id = j.id AND t.outcome IS NULL
),
b AS (${bossFollow('j', { fenced: false })}),
c AS (${bossRecreate('j')}),
moved AS (SELECT id FROM b UNION ALL SELECT id FROM c)
SELECT ${JOB_COLUMNS} FROM j WHERE ${bothStoresMoved('moved', 'j', 'cancel')}`;

/** Cancels the jobs among `ids` in one of `statuses` (within the cancellable ones); returns those changed. */
export async function cancelJobs(db: Queryable, ids: string[], p: { owners?: string[]; statuses?: string[] }): Promise<JobRow[]> {
  const { rows } = await db.query({
    name: 'cancel-jobs',
    text: CANCEL,
    values: [ids, p.owners ?? null, p.statuses ?? CANCELLABLE_STATUSES],
  });
  return rows;
}

export async function cancelJob(db: Queryable, id: string, owners?: string[]): Promise<JobRow | undefined> {
  return (await cancelJobs(db, [id], { owners }))[0];
}
