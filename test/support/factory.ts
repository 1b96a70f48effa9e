// The job factory: puts one job straight into any state, with overrides, writing
// the `jobs` row, its attempt log and its pg-boss row in one statement, as the
// service's statements would have left them. A test then reads as
// "given a running job of owner A, when …, then …":
//
//   const job = await given.job(t, { status: 'running', owner_service: 'a' });
//
// Defaults follow the status: a running job holds a 300 s lease of worker w1 on its
// first attempt; completed and failed jobs ran once; pending and cancelled never ran.
// Timestamps default to now; pass created_at, finished_at, … to place a job in time.
//
// The stats triggers count an inserted job in its status gauge only. The per-minute
// `finished:` and `error:` counters count transitions, so a job born completed or
// failed is not in them: a test of those counters drives the job through the API.
import type pg from 'pg';
import { JOB_COLUMNS, type JobRow, type JobStatus } from '../../src/jobs/job-row.ts';
import type { QueueRegistry } from '../../src/pgboss/boss.ts';
import { uuidv7 } from '../../src/lib/ids.ts';
import { insertAttemptRows, insertBossRows } from './job-rows.ts';

export interface JobOverrides {
  id?: string;
  status?: JobStatus;
  owner_service?: string;
  owner_ref?: string;
  task_type?: string;
  model_profile?: string;
  priority?: number;
  input?: Record<string, unknown>;
  result?: Record<string, unknown> | null;
  error?: { category: string; message: string } | null;
  /** Attempts made so far (pending: > 0 means it failed and waits for a retry). */
  attempts?: number;
  max_attempts?: number;
  idempotency_key?: string | null;
  request_hash?: string | null;
  worker_id?: string | null;
  lease_token?: string | null;
  lease_seconds?: number | null;
  lease_expires_at?: string | null;
  run_after?: string;
  created_at?: string;
  started_at?: string | null;
  finished_at?: string | null;
  callback_url?: string | null;
  callback_events?: string[] | null;
}

/** What the factory needs of a test's service: SQL on its database, and its queue registry. */
export interface FactoryTarget {
  sql: pg.Pool;
  service: { queues: QueueRegistry };
}

export type GivenJob = JobRow & { lease_token: string | null };

const RAN_ONCE: Record<JobStatus, number> = { pending: 0, running: 1, completed: 1, failed: 1, cancelled: 0 };
const LEASE_SECONDS = 300;
let refCounter = 0;

/** The full row: status-dependent defaults under the overrides. Timestamps left null default in SQL. */
function jobRecord(o: JobOverrides) {
  const status = o.status ?? 'pending';
  const attempts = o.attempts ?? RAN_ONCE[status];
  const ran = attempts > 0;
  return {
    id: uuidv7(),
    owner_service: 'telephony',
    owner_ref: `given/job-${++refCounter}`,
    task_type: 'call_analysis',
    model_profile: 'qwen2.5-14b',
    priority: 0,
    input: { prompt: 'Summarise the call.' },
    result: status === 'completed' ? { content: 'The caller asked about a refund.' } : null,
    error: status === 'failed' || (status === 'pending' && ran) ? { category: 'provider_error', message: 'upstream 500' } : null,
    max_attempts: Math.max(3, attempts),
    idempotency_key: null,
    request_hash: null,
    worker_id: ran ? 'w1' : null,
    lease_token: ran ? crypto.randomUUID() : null,
    lease_seconds: ran ? LEASE_SECONDS : null,
    lease_expires_at: null,
    run_after: null,
    created_at: null,
    started_at: null,
    finished_at: null,
    callback_url: null,
    callback_events: null,
    ...o,
    status,
    attempts,
  };
}

// Timestamps: created now, or when it started or finished if only that is given; a
// job that ran started at creation; a finished one finished now unless told; a
// running one's lease runs lease_seconds from now.
const INSERT_JOB = `
WITH r AS (SELECT * FROM json_populate_record(NULL::jobs, $1::json)),
j AS (
  INSERT INTO jobs (id, owner_service, owner_ref, task_type, model_profile, status, priority, input, result, error,
                    error_at, attempts, max_attempts, idempotency_key, request_hash, worker_id, lease_token,
                    lease_expires_at, lease_seconds, run_after, created_at, updated_at, started_at, finished_at,
                    callback_url, callback_events)
  SELECT id, owner_service, owner_ref, task_type, model_profile, status, priority, input, result, error,
         CASE WHEN error IS NOT NULL THEN COALESCE(finished_at, now()) END, attempts, max_attempts, idempotency_key,
         request_hash, worker_id, lease_token,
         CASE WHEN status = 'running' THEN COALESCE(lease_expires_at, now() + make_interval(secs => lease_seconds)) END,
         lease_seconds, COALESCE(run_after, created), created, now(),
         CASE WHEN attempts > 0 THEN COALESCE(started_at, created) END,
         CASE WHEN status IN ('completed', 'failed', 'cancelled') THEN COALESCE(finished_at, now()) END,
         callback_url, callback_events
  FROM r, LATERAL (SELECT COALESCE(created_at, started_at, finished_at, now()) AS created) c
  RETURNING *
),
a AS (${insertAttemptRows('j')}),
b AS (${insertBossRows('j')})
SELECT ${JOB_COLUMNS}, lease_token FROM j WHERE ai_assert((SELECT count(*) FROM b) = 1, 'pg-boss row not written')`;

export const given = {
  /** One job in the state the overrides describe (default: pending); its queue is created if new. */
  async job(t: FactoryTarget, overrides: JobOverrides = {}): Promise<GivenJob> {
    const row = jobRecord(overrides);
    await t.service.queues.ensure([row]);
    const { rows } = await t.sql.query(INSERT_JOB, [JSON.stringify(row)]);
    return rows[0];
  },

  /** `count` jobs alike (each with its own id and owner_ref), oldest first. */
  async jobs(t: FactoryTarget, count: number, overrides: Omit<JobOverrides, 'id' | 'owner_ref'> = {}): Promise<GivenJob[]> {
    const jobs: GivenJob[] = [];
    for (let i = 0; i < count; i++) jobs.push(await given.job(t, overrides));
    return jobs;
  },
};
