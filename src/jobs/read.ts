// Reading jobs: one job with its attempts and latest callback delivery, and
// filtered pages newest first with an opaque cursor (the last id, base64url).
import type { Pool } from '../db/pool.ts';
import { HttpError, notFound } from '../http/problem.ts';
import { isUuid } from '../lib/ids.ts';
import { heldBy } from '../policies/held.ts';
import type { Policy } from '../policies/policy.ts';
import { latestDelivery } from '../webhooks/store.ts';
import { getProgress } from './progress-store.ts';
import { getAttempts, getJob, type ListFilter, listJobs } from './read-store.ts';

export function encodeCursor(id: string): string {
  return Buffer.from(id).toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString();
  if (!isUuid(id)) throw new HttpError(400, 'validation_failed', 'cursor is invalid');
  return id;
}

export class JobReader {
  private readonly pool: Pool;
  private readonly policies: () => readonly Policy[];

  constructor(pool: Pool, policies: () => readonly Policy[] = () => []) {
    this.pool = pool;
    this.policies = policies;
  }

  async get(id: string, withAttempts = true, owners?: string[]) {
    const job = await getJob(this.pool, id, owners);
    if (!job) throw notFound();
    if (!withAttempts) return job;
    const ready = job.status === 'pending' && Date.parse(job.run_after) <= Date.now();
    const [attempts_history, callback, progress, held] = await Promise.all([
      getAttempts(this.pool, id),
      job.callback_url ? latestDelivery(this.pool, id) : null,
      getProgress(this.pool, id),
      ready ? heldBy(this.pool, this.policies(), job) : [],
    ]);
    // held_by only on a job a policy holds back, so other jobs read as before
    return { ...job, ...(held.length ? { held_by: held } : {}), attempts_history, callback, progress };
  }

  async list(filter: ListFilter) {
    const rows = await listJobs(this.pool, { ...filter, limit: filter.limit + 1 });
    const more = rows.length > filter.limit;
    const jobs = more ? rows.slice(0, filter.limit) : rows;
    return { jobs, next_cursor: more ? encodeCursor(jobs[jobs.length - 1].id) : null };
  }
}
