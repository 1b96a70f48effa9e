// The job domain: turns API requests into storage calls, decides statuses and
// error codes, and reports events (metrics). Every state change is one storage
// statement or one transaction that writes `jobs` and pg-boss together.
import type { Pool } from '../db/pool.ts';
import { withTransaction } from '../db/pool.ts';
import { badRequest, conflict, HttpError, notFound } from '../http/problem.ts';
import { uuidv7 } from '../lib/ids.ts';
import { canonicalJson, sha256 } from '../lib/json.ts';
import type { QueueRegistry } from '../queue/boss.ts';
import type { Waiters } from '../queue/waiters.ts';
import { cancelJob, retryJob } from '../storage/jobs-admin.ts';
import { type ClaimedRow, claimJobs } from '../storage/jobs-claim.ts';
import { findByIdempotencyKeys, insertJobs, type NewJob } from '../storage/jobs-create.ts';
import { getAttempts, getJob, type ListFilter, listJobs } from '../storage/jobs-read.ts';
import { type Backoff, completeJob, failJob, heartbeat, leaseOutcome } from '../storage/jobs-settle.ts';
import type { JobRow } from '../storage/job-row.ts';
import { type JobEvents, noEvents } from './events.ts';
import { checkPayload, type JobCreateBody, type PayloadLimits } from './validate.ts';
import { type CallbackPolicy, checkCallbackUrl } from '../webhooks/policy.ts';
import { latestDelivery } from '../storage/webhooks.ts';

export const DEFAULT_MAX_ATTEMPTS = 3;
export const MESSAGE_MAX_CHARS = 4000;
/** Categories a failure is not retried for unless the worker says otherwise. */
const NOT_RETRYABLE_BY_DEFAULT = new Set(['invalid_input']);

export interface JobServiceDeps {
  pool: Pool;
  queues: QueueRegistry;
  waiters: Waiters;
  inputLimits: PayloadLimits;
  resultLimits: PayloadLimits;
  backoff: Backoff;
  longPollRecheckMs: number;
  /** Aborted at shutdown: long polls return at once. */
  stopping: AbortSignal;
  callbackPolicy: CallbackPolicy;
  events?: JobEvents;
}

export interface ClaimRequest {
  worker_id: string;
  model_profiles?: string[];
  task_types?: string[];
  limit?: number;
  lease_seconds?: number;
  wait_seconds?: number;
}

export interface FailRequest {
  lease_token: string;
  category: string;
  message: string;
  retryable?: boolean;
  retry_after_seconds?: number;
}

const leaseLost = () => conflict('lease_lost', 'the lease token is not current or the lease has expired');

function toNewJob(body: JobCreateBody): NewJob {
  return {
    id: uuidv7(),
    owner_service: body.owner_service,
    owner_ref: body.owner_ref,
    task_type: body.task_type,
    model_profile: body.model_profile,
    priority: body.priority ?? 0,
    input: body.input,
    max_attempts: body.max_attempts ?? DEFAULT_MAX_ATTEMPTS,
    idempotency_key: body.idempotency_key ?? null,
    request_hash: sha256(canonicalJson(body)),
    run_after: body.run_after ?? null,
    callback_url: body.callback_url ?? null,
    callback_events: body.callback_events ?? null,
  };
}

export class JobService {
  private readonly d: JobServiceDeps;
  private readonly events: JobEvents;

  constructor(deps: JobServiceDeps) {
    this.d = deps;
    this.events = deps.events ?? noEvents;
  }

  /**
   * Creates jobs in request order. Idempotent items (same owner_service and key)
   * return the existing job when the request is the same, 409 when it differs.
   * Returns each job with `created: false` for replays.
   */
  async create(bodies: JobCreateBody[]): Promise<{ job: JobRow; created: boolean }[]> {
    for (const b of bodies) {
      checkPayload(b.input, '/body/input', this.d.inputLimits);
      if (b.callback_url) checkCallbackUrl(b.callback_url, this.d.callbackPolicy);
      else if (b.callback_events) throw badRequest('callback_events needs a callback_url', [{ path: '/body/callback_events', message: 'requires callback_url' }]);
    }
    const jobs = bodies.map(toNewJob);
    await this.d.queues.ensure(jobs);
    const keyed = jobs.filter((j) => j.idempotency_key !== null);
    // Without idempotency keys every row is new: one autocommit statement is all-or-nothing.
    // With keys, a conflict found after the insert must undo the batch: use a transaction.
    const run = async (db: Pool | import('pg').PoolClient) => {
      const inserted = await insertJobs(db, jobs);
      const byId = new Map(inserted.map((r) => [r.id, r]));
      if (inserted.length === jobs.length) return jobs.map((j) => ({ job: byId.get(j.id)!, created: true }));
      const existing = await findByIdempotencyKeys(db, keyed as { owner_service: string; idempotency_key: string }[]);
      const byKey = new Map(existing.map((r) => [`${r.owner_service}\u0000${r.idempotency_key}`, r]));
      return jobs.map((j) => {
        const own = byId.get(j.id);
        if (own) return { job: own, created: true };
        const prior = byKey.get(`${j.owner_service}\u0000${j.idempotency_key}`);
        if (!prior) throw new Error('idempotent create found no prior job');
        if (prior.request_hash !== j.request_hash)
          throw conflict('idempotency_conflict', `idempotency_key ${j.idempotency_key} was used with different content`);
        const { request_hash: _h, ...job } = prior;
        return { job: job as JobRow, created: false };
      });
    };
    const results = keyed.length && jobs.length > 1 ? await withTransaction(this.d.pool, run) : await run(this.d.pool);
    this.events.created(results.filter((r) => r.created).map((r) => r.job));
    return results;
  }

  async claim(req: ClaimRequest, clientGone: AbortSignal): Promise<ClaimedRow[]> {
    const signal = AbortSignal.any([clientGone, this.d.stopping]);
    const params = {
      workerId: req.worker_id,
      modelProfiles: req.model_profiles,
      taskTypes: req.task_types,
      limit: req.limit ?? 1,
      leaseSeconds: req.lease_seconds ?? 300,
    };
    const waitMs = (req.wait_seconds ?? 0) * 1000;
    if (waitMs === 0) return this.claimed(await claimJobs(this.d.pool, params));
    const deadline = Date.now() + waitMs;
    const filter = { modelProfiles: req.model_profiles, taskTypes: req.task_types };
    for (;;) {
      // Arm before claiming, so a job created between the claim and the wait still wakes us.
      const wake = this.d.waiters.arm(filter);
      // A long-poll claim commits only if the client is still there to receive the jobs.
      const jobs = await withTransaction(this.d.pool, async (client) => {
        const rows = await claimJobs(client, params);
        if (rows.length && signal.aborted) throw new HttpError(499, 'client_closed', 'client went away');
        return rows;
      }).catch((err) => {
        wake.cancel();
        if (err instanceof HttpError && err.status === 499) return [];
        throw err;
      });
      if (jobs.length || signal.aborted || Date.now() >= deadline) {
        wake.cancel();
        return this.claimed(jobs);
      }
      await wake.wait(this.d.longPollRecheckMs, deadline, signal);
    }
  }

  reportLeaseExpired(jobs: { task_type: string; model_profile: string; status: string }[]): void {
    this.events.leaseExpired(jobs);
  }

  private claimed(rows: ClaimedRow[]): ClaimedRow[] {
    if (rows.length) this.events.claimed(rows);
    return rows;
  }

  async heartbeat(id: string, token: string, leaseSeconds?: number) {
    const r = await heartbeat(this.d.pool, id, token, leaseSeconds);
    if (r) return r;
    await this.explainLeaseMiss(id, token, null);
    throw leaseLost();
  }

  async complete(id: string, token: string, result: Record<string, unknown>): Promise<JobRow> {
    checkPayload(result, '/body/result', this.d.resultLimits);
    const row = await completeJob(this.d.pool, id, token, result);
    if (row) {
      this.events.completed(row);
      return row;
    }
    return this.replayOrLeaseLost(id, token, 'completed');
  }

  async fail(id: string, req: FailRequest): Promise<JobRow> {
    const error = { category: req.category, message: req.message.slice(0, MESSAGE_MAX_CHARS) };
    const retryable = req.retryable ?? !NOT_RETRYABLE_BY_DEFAULT.has(req.category);
    const row = await failJob(
      this.d.pool,
      id,
      req.lease_token,
      { error, retryable, retryAfterSeconds: req.retry_after_seconds },
      this.d.backoff,
    );
    if (row) {
      this.events.failed(row, req.category);
      return row;
    }
    return this.replayOrLeaseLost(id, req.lease_token, 'failed', 'retried');
  }

  /** A repeated complete/fail with the token of the attempt that already did it is answered with the job. */
  private async replayOrLeaseLost(id: string, token: string, ...outcomes: string[]): Promise<JobRow> {
    await this.explainLeaseMiss(id, token, outcomes);
    const job = await getJob(this.d.pool, id);
    if (!job) throw notFound();
    return job;
  }

  private async explainLeaseMiss(id: string, token: string, replayable: string[] | null): Promise<void> {
    const { exists, outcome } = await leaseOutcome(this.d.pool, id, token);
    if (!exists) throw notFound();
    if (!replayable || !outcome || !replayable.includes(outcome)) throw leaseLost();
  }

  // `owners` (a producer's owner-service scope) makes other owners' jobs invisible: 404, not 403,
  // so a caller cannot learn that a job id exists.
  async retry(id: string, resetAttempts = false, delaySeconds = 0, owners?: string[]): Promise<JobRow> {
    const row = await retryJob(this.d.pool, id, resetAttempts, delaySeconds, owners);
    if (row) {
      this.events.retried(row);
      return row;
    }
    throw await this.invalidState(id, 'only failed or running jobs can be retried', owners);
  }

  async cancel(id: string, owners?: string[]): Promise<JobRow> {
    const row = await cancelJob(this.d.pool, id, owners);
    if (row) {
      this.events.cancelled(row);
      return row;
    }
    throw await this.invalidState(id, 'only pending or running jobs can be cancelled', owners);
  }

  private async invalidState(id: string, detail: string, owners?: string[]): Promise<HttpError> {
    const job = await getJob(this.d.pool, id, owners);
    if (!job) return notFound();
    return conflict('invalid_state', `${detail}; this job is ${job.status}`);
  }

  async get(id: string, withAttempts = true, owners?: string[]) {
    const job = await getJob(this.d.pool, id, owners);
    if (!job) throw notFound();
    if (!withAttempts) return job;
    const [attempts_history, callback] = await Promise.all([
      getAttempts(this.d.pool, id),
      job.callback_url ? latestDelivery(this.d.pool, id) : null,
    ]);
    return { ...job, attempts_history, callback };
  }

  async list(filter: ListFilter) {
    const rows = await listJobs(this.d.pool, { ...filter, limit: filter.limit + 1 });
    const more = rows.length > filter.limit;
    const jobs = more ? rows.slice(0, filter.limit) : rows;
    return { jobs, next_cursor: more ? encodeCursor(jobs[jobs.length - 1].id) : null };
  }
}

export function encodeCursor(id: string): string {
  return Buffer.from(id).toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString();
  if (!/^[0-9a-f-]{36}$/.test(id)) throw new HttpError(400, 'validation_failed', 'cursor is invalid');
  return id;
}
