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
//
// Each documented filter has an index ending in `id DESC` (migration 008). Left alone,
// the planner answers `ORDER BY id DESC LIMIT n` by walking the primary key backwards
// and filtering, assuming matching rows are spread evenly over ids; when they are not
// (pending jobs older than the rest, a queue that stopped), that reads most of the
// table. So the lead filter (the first of error_category, task_type +
// model_profile, owner_service, status that is given; none when owner_ref is given)
// is written as `= ANY(ARRAY[$n])`,
// which the planner does not fold into a constant, and the page is ordered by that
// index's columns: only that index yields the order without a sort. With one value per
// leading column the order is id DESC.
//
// owner_ref has no index on `jobs` (migration 015): its ids come from job_keys
// (owner_ref, job_id DESC), joined so the page is read in that index's order and
// stops after `limit` matches; the keyset bound goes inside, where that index can use it.
export async function listJobs(db: Queryable, f: ListFilter): Promise<JobRow[]> {
  const where: string[] = [];
  const values: unknown[] = [];
  let from = 'jobs';
  let order = 'id DESC';
  const add = (sql: string, value: unknown) => {
    values.push(value);
    where.push(sql.replace('?', `$${values.length}`));
  };
  const lead =
    f.owner_ref !== undefined
      ? undefined
      : f.error_category
        ? 'category'
        : f.task_type && f.model_profile
          ? 'queue'
          : f.owner_service?.length === 1
            ? 'owner'
            : f.status
              ? 'status'
              : undefined;
  const leadBy = (column: string, value: string) => add(`${column} = ANY(ARRAY[?::text])`, value);
  if (lead === 'owner') leadBy('owner_service', f.owner_service![0]);
  else if (f.owner_service) add('owner_service = ANY(?::text[])', f.owner_service);
  if (f.owner_ref !== undefined) {
    values.push(f.owner_ref);
    const ref = `$${values.length}::text`;
    if (f.before_id) values.push(f.before_id);
    const before = f.before_id ? ` AND job_id < $${values.length}::uuid` : '';
    from = `jobs JOIN (SELECT job_id FROM job_keys WHERE owner_ref = ${ref}${before}) r ON r.job_id = jobs.id`;
  }
  if (lead === 'queue') {
    leadBy('task_type', f.task_type!);
    leadBy('model_profile', f.model_profile!);
  } else {
    if (f.task_type) add('task_type = ?::text', f.task_type);
    if (f.model_profile) add('model_profile = ?::text', f.model_profile);
  }
  if (lead === 'status') leadBy('status', f.status!);
  else if (f.status) add('status = ?::text', f.status);
  // `error IS NOT NULL` is the partial index's predicate, stated so the planner need not prove it
  if (lead === 'category') {
    leadBy(`(error ->> 'category')`, f.error_category!);
    where.push('error IS NOT NULL');
  } else if (f.error_category) add(`error ->> 'category' = ?::text`, f.error_category);
  if (f.before_id) add('id < ?::uuid', f.before_id);
  if (lead === 'queue') order = 'task_type, model_profile, id DESC';
  if (lead === 'owner') order = 'owner_service, id DESC';
  if (lead === 'status') order = 'status, id DESC';
  if (lead === 'category') order = `(error ->> 'category'), id DESC`;
  values.push(f.limit);
  const { rows } = await db.query(
    `SELECT ${JOB_COLUMNS} FROM ${from} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY ${order} LIMIT $${values.length}`,
    values,
  );
  return rows;
}
