// Progress SQL. A stored progress is one statement: it checks the lease, replaces
// the job's progress (fields left out keep their value), appends a `progress` event
// (dropping the job's older progress events: progress is latest-wins, only status
// events must all survive for a resuming stream), notifies the event stream
// listeners, and enqueues a throttled `job.progress` callback when the job opted in.
//
// The job row is locked FOR SHARE: a status change holds it FOR UPDATE until commit,
// so a progress event and a status event of one job never commit out of id order,
// and a stream resuming after the later of two events cannot miss the earlier.
import type { Queryable } from '../db/pool.ts';
import { holdsLease } from './settle-store.ts';

export const PROGRESS_EVENTS_CHANNEL = 'ai_service_job_events';
/** At most one `job.progress` callback per job in this many seconds. */
export const PROGRESS_WEBHOOK_INTERVAL_SECONDS = 2;

export interface ProgressUpdate {
  fraction?: number;
  message?: string;
  output?: Record<string, unknown>;
}

export interface Progress {
  fraction: number | null;
  message: string | null;
  output: Record<string, unknown> | null;
  updated_at: string;
}

export type ProgressOutcome = 'stored' | 'lease_lost' | 'not_found';

/** SQL (a jsonb expression): progress row `p` as the API shows it. */
export const PROGRESS_JSON = (p: string) =>
  `jsonb_build_object('fraction', ${p}.fraction, 'message', ${p}.message, 'output', ${p}.output, 'updated_at', api_ts(${p}.updated_at))`;

const STORE = `
WITH locked AS (
  SELECT * FROM jobs WHERE id = $1::uuid FOR SHARE
),
held AS (
  SELECT l.* FROM locked l WHERE ${holdsLease('l', '$2::uuid')}
),
p AS (
  INSERT INTO job_progress AS old (job_id, fraction, message, output, updated_at)
  SELECT id, $3::float8, $4::text, $5::jsonb, now() FROM held
  ON CONFLICT (job_id) DO UPDATE SET
    fraction = COALESCE(EXCLUDED.fraction, old.fraction),
    message = COALESCE(EXCLUDED.message, old.message),
    output = COALESCE(EXCLUDED.output, old.output),
    updated_at = now()
  RETURNING *
),
dropped AS (
  DELETE FROM job_events e USING held WHERE e.job_id = held.id AND e.kind = 'progress'
),
e AS (
  INSERT INTO job_events (job_id, kind, data)
  SELECT job_id, 'progress', jsonb_build_object('job_id', job_id) || ${PROGRESS_JSON('p')} FROM p
  RETURNING id, data
),
callback AS (
  SELECT job_progress_webhook(held.id, held.callback_url,
           jsonb_build_object('type', 'job.progress', 'timestamp', api_ts(now()), 'data', e.data))
  FROM held, e
  WHERE 'progress' = ANY (held.callback_events) AND held.callback_url IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                    WHERE d.job_id = held.id AND d.event = 'job.progress'
                      AND d.created_at > now() - make_interval(secs => ${PROGRESS_WEBHOOK_INTERVAL_SECONDS}))
)
SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM locked) THEN 'not_found'
            WHEN EXISTS (SELECT 1 FROM e) THEN 'stored' ELSE 'lease_lost' END AS outcome,
       (SELECT count(*) FROM callback) AS callbacks,
       (SELECT pg_notify('${PROGRESS_EVENTS_CHANNEL}', id || ' ' || id) FROM e) AS notified`;

/** Stores a progress on a held lease in one statement. */
export async function storeProgress(db: Queryable, id: string, token: string, u: ProgressUpdate): Promise<ProgressOutcome> {
  const { rows } = await db.query({
    name: 'store-progress',
    text: STORE,
    values: [id, token, u.fraction ?? null, u.message ?? null, u.output === undefined ? null : JSON.stringify(u.output)],
  });
  return rows[0].outcome;
}

/** Whether `token` holds the lease on job `id`, without writing anything. */
export async function checkLease(db: Queryable, id: string, token: string): Promise<ProgressOutcome> {
  const { rows } = await db.query({
    name: 'check-progress-lease',
    text: `SELECT CASE WHEN ${holdsLease('l', '$2::uuid')} THEN 'stored' ELSE 'lease_lost' END AS outcome FROM jobs l WHERE l.id = $1::uuid`,
    values: [id, token],
  });
  return rows[0]?.outcome ?? 'not_found';
}

/** The job's progress as the API shows it, or null. */
export async function getProgress(db: Queryable, id: string): Promise<Progress | null> {
  const { rows } = await db.query({
    name: 'get-progress',
    text: `SELECT ${PROGRESS_JSON('p')} AS progress FROM job_progress p WHERE p.job_id = $1::uuid`,
    values: [id],
  });
  return rows[0]?.progress ?? null;
}
