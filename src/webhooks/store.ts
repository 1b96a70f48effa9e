// Webhook delivery records (migration 003). Rows are created by the jobs trigger
// (the outbox: it also inserts the delivery's pg-boss row, see OUTBOX_INSERT_COLUMNS);
// the deliverer updates them after each attempt, in the same transaction that
// settles the delivery's pg-boss job.
import type { Queryable } from '../db/pool.ts';
import { bossDelayRetry, bossMakeLastAttempt, bossStartAfter } from '../pgboss/mirror.ts';

export const WEBHOOK_QUEUE = 'webhooks';

export interface Delivery {
  id: string;
  job_id: string;
  url: string;
  payload: Record<string, unknown>;
  status: string;
  /** The job's trace context; null when it has none or was purged. */
  traceparent: string | null;
}

export async function getDelivery(db: Queryable, id: string): Promise<Delivery | undefined> {
  const { rows } = await db.query(
    `SELECT d.id, d.job_id, d.url, d.payload, d.status, j.traceparent
     FROM webhook_deliveries d LEFT JOIN jobs j ON j.id = d.job_id WHERE d.id = $1::uuid`,
    [id],
  );
  return rows[0];
}

export async function recordAttempt(
  db: Queryable,
  id: string,
  a: { status: 'pending' | 'delivered' | 'failed'; attempts: number; statusCode: number | null; error: string | null },
): Promise<void> {
  await db.query(
    `UPDATE webhook_deliveries d SET status = $2::text, attempts = $3::int, last_status_code = $4::int, last_error = $5::text,
       delivered_at = CASE WHEN $2::text = 'delivered' THEN now() END,
       next_attempt_at = CASE WHEN $2::text = 'pending'
         THEN ${bossStartAfter(WEBHOOK_QUEUE, 'd.id')} END
     WHERE id = $1::uuid`,
    [id, a.status, a.attempts, a.statusCode, a.error],
  );
}

/** Moves the next attempt of a retrying delivery to `delayMs` from now (Retry-After). */
export async function delayRetry(db: Queryable, id: string, delayMs: number): Promise<void> {
  await db.query(bossDelayRetry(WEBHOOK_QUEUE), [id, delayMs]);
}

/** Makes the current attempt the last one, so pg-boss's fail() marks it failed. */
export async function makeLastAttempt(db: Queryable, id: string): Promise<void> {
  await db.query(bossMakeLastAttempt(WEBHOOK_QUEUE), [id]);
}

/** The latest delivery of a job, as GET /jobs/{id} shows it under `callback`. */
export async function latestDelivery(db: Queryable, jobId: string) {
  const { rows } = await db.query(
    `SELECT status, event, attempts, last_status_code, last_error, next_attempt_at, delivered_at
     FROM webhook_deliveries WHERE job_id = $1::uuid ORDER BY created_at DESC LIMIT 1`,
    [jobId],
  );
  return rows[0] ?? null;
}
