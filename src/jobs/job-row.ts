// The column list every job-returning statement uses, aliased to the API's
// field names, so a row is a Job without mapping code.
import type { JobStatus } from '../pgboss/mirror.ts';

export const JOB_COLUMNS = `
  id, owner_service, owner_ref, task_type, model_profile, status, priority, input, result,
  CASE WHEN error IS NULL THEN NULL ELSE jsonb_build_object('category', error ->> 'category', 'message', error ->> 'message') END AS error,
  attempts, max_attempts, deferrals, max_deferrals, start_before, idempotency_key, worker_id, lease_expires_at, run_after,
  created_at, updated_at, started_at, finished_at, callback_url, callback_events`;

export type { JobStatus };

export interface JobRow {
  id: string;
  owner_service: string;
  owner_ref: string;
  task_type: string;
  model_profile: string;
  status: JobStatus;
  priority: number;
  input: Record<string, unknown>;
  result: Record<string, unknown> | null;
  error: { category: string; message: string } | null;
  attempts: number;
  max_attempts: number;
  deferrals: number;
  max_deferrals: number;
  start_before: string | null;
  idempotency_key: string | null;
  worker_id: string | null;
  lease_expires_at: string | null;
  run_after: string;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  callback_url: string | null;
  callback_events: string[] | null;
}
