// Producer/operator actions on a job: retry and cancel. `owners` (a producer's
// owner-service scope) makes other owners' jobs invisible: 404, not 403, so a
// caller cannot learn that a job id exists.
import type { Pool } from '../db/pool.ts';
import { conflict, type HttpError, notFound } from '../http/problem.ts';
import { cancelJob, retryJob } from './admin-store.ts';
import type { JobEvents } from './events.ts';
import type { JobRow } from './job-row.ts';
import { getJob } from './read-store.ts';

export interface AdminDeps {
  pool: Pool;
  events: JobEvents;
}

/** A retry as the validator passes it, with openapi.yaml's defaults filled in. */
export interface RetryRequest {
  reset_attempts: boolean;
  delay_seconds: number;
}

export class JobAdmin {
  private readonly d: AdminDeps;

  constructor(deps: AdminDeps) {
    this.d = deps;
  }

  async retry(id: string, req: RetryRequest, owners?: string[]): Promise<JobRow> {
    const row = await retryJob(this.d.pool, id, req.reset_attempts, req.delay_seconds, owners);
    if (row) {
      this.d.events.retried(row);
      return row;
    }
    throw await this.invalidState(id, 'only failed or running jobs can be retried', owners);
  }

  async cancel(id: string, owners?: string[]): Promise<JobRow> {
    const row = await cancelJob(this.d.pool, id, owners);
    if (row) {
      this.d.events.cancelled(row);
      return row;
    }
    throw await this.invalidState(id, 'only pending or running jobs can be cancelled', owners);
  }

  private async invalidState(id: string, detail: string, owners?: string[]): Promise<HttpError> {
    const job = await getJob(this.d.pool, id, owners);
    if (!job) return notFound();
    return conflict('invalid_state', `${detail}; this job is ${job.status}`);
  }
}
