// Deadlines: a pending job whose `start_before` has passed is cancelled with error
// category `expired`, both stores in one statement (run by the leader every
// EXPIRY_INTERVAL_MS, in bounded batches read from jobs_start_before_idx). The claim
// skips such jobs itself (claim-store.ts), so a job is never handed out after its
// deadline even before this pass reaches it. The webhook `job.cancelled` comes from
// the status trigger, as for any cancel.
import type { Queryable } from '../db/pool.ts';
import { bossFollow, bothStoresMoved } from '../pgboss/mirror.ts';
import type { JobEvents } from './events.ts';
import { JOB_COLUMNS, type JobRow } from './job-row.ts';

export const EXPIRED_ERROR = { category: 'expired', message: 'not claimed before start_before' };

// Our row decides (unfenced follow), as an operator cancel does.
const EXPIRE = `
WITH due AS (
  SELECT id FROM jobs WHERE status = 'pending' AND start_before IS NOT NULL AND start_before <= now()
  ORDER BY start_before LIMIT $1::int FOR UPDATE SKIP LOCKED
),
j AS (
  UPDATE jobs SET status = 'cancelled', error = $2::jsonb, error_at = now(), finished_at = now(), updated_at = now()
  FROM due WHERE jobs.id = due.id
  RETURNING jobs.*
),
b AS (${bossFollow('j', { fenced: false, output: '$2::jsonb' })})
SELECT ${JOB_COLUMNS} FROM j WHERE ${bothStoresMoved('b', 'j', 'expire')}`;

/** Cancels up to `batch` jobs past their start_before; returns them. */
export async function expireJobs(db: Queryable, batch: number): Promise<JobRow[]> {
  const { rows } = await db.query({ name: 'expire-jobs', text: EXPIRE, values: [batch, JSON.stringify(EXPIRED_ERROR)] });
  return rows;
}

/** One pass: expire batch by batch while `keepGoing()`, reporting each job as cancelled. */
export async function expireOverdueJobs(db: Queryable, events: JobEvents, keepGoing: () => boolean, batch: number): Promise<number> {
  let total = 0;
  for (;;) {
    const expired = await expireJobs(db, batch);
    for (const j of expired) events.cancelled(j);
    total += expired.length;
    if (expired.length < batch || !keepGoing()) return total;
  }
}
