// Reading jobs: by id (with its attempts) and filtered lists, newest first with
// keyset pagination on id (UUIDv7 ids are time-ordered).
import type { Queryable } from '../db/pool.ts';
import { JOB_COLUMNS, type JobRow } from './job-row.ts';

/** `owners` limits the lookup to those owner services (a producer's scope); null/undefined = any. */
export async function getJob(db: Queryable, id: string, owners?: string[]): Promise<JobRow | undefined> {
  const { rows } = await db.query({
    name: 'get-job',
    text: `SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1::uuid AND ($2::text[] IS NULL OR owner_service = ANY($2::text[]))`,
    values: [id, owners ?? null],
  });
  return rows[0];
}

export async function getAttempts(db: Queryable, id: string) {
  const { rows } = await db.query(
    `SELECT attempt, worker_id, claimed_at, lease_expires_at, finished_at, outcome,
            CASE WHEN error IS NULL THEN NULL
                 ELSE jsonb_build_object('category', error ->> 'category', 'message', error ->> 'message') END AS error
     FROM job_attempts WHERE job_id = $1::uuid ORDER BY claimed_at, attempt`,
    [id],
  );
  return rows;
}

export interface ListFilter {
  owner_service?: string[]; // any of (producer scopes may name several)
  owner_ref?: string;
  task_type?: string;
  model_profile?: string;
  status?: string;
  error_category?: string;
  before_id?: string;
  limit: number;
}

// Filter columns are fixed names; only values are parameters.
export async function listJobs(db: Queryable, f: ListFilter): Promise<JobRow[]> {
  const where: string[] = [];
  const values: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    values.push(value);
    where.push(sql.replace('?', `$${values.length}`));
  };
  // One owner as an equality, so jobs_owner_service_idx (owner_service, id DESC) serves the
  // page in order; `= ANY` of several owners cannot be read from one index range in id order.
  if (f.owner_service?.length === 1) add('owner_service = ?::text', f.owner_service[0]);
  else if (f.owner_service) add('owner_service = ANY(?::text[])', f.owner_service);
  if (f.owner_ref !== undefined) add('owner_ref = ?::text', f.owner_ref);
  if (f.task_type) add('task_type = ?::text', f.task_type);
  if (f.model_profile) add('model_profile = ?::text', f.model_profile);
  if (f.status) add('status = ?::text', f.status);
  if (f.error_category) add(`error ->> 'category' = ?::text`, f.error_category);
  if (f.before_id) add('id < ?::uuid', f.before_id);
  values.push(f.limit);
  const { rows } = await db.query(
    `SELECT ${JOB_COLUMNS} FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY id DESC LIMIT $${values.length}`,
    values,
  );
  return rows;
}
