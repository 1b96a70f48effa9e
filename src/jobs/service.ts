// The job domain: turns API requests into storage calls, decides statuses and
// error codes, and reports events (metrics). Every state change is one storage
// statement or one transaction that writes `jobs` and pg-boss together.
import type { Pool } from '../db/pool.ts';
import { withTransaction } from '../db/pool.ts';
import { badRequest, conflict, HttpError, notFound } from '../http/problem.ts';
import type { QueueRegistry } from '../pgboss/boss.ts';
import type { Waiters } from './waiters.ts';
import { cancelJob, retryJob } from './admin-store.ts';
import { type ClaimedRow, type ClaimParams, claimJobs } from './claim-store.ts';
import { getAttempts, getJob, type ListFilter, listJobs } from './read-store.ts';
import { type Backoff, type Completion, completeJobs, failJob, heartbeat, leaseOutcome } from './settle-store.ts';
import type { JobRow } from './job-row.ts';
import { type CreateResult, createJobs, toNewJob } from './create.ts';
import { type JobEvents, noEvents } from './events.ts';
import { checkBatchPayloads, checkPayload, type JobCreateBody, type PayloadLimits } from './validate.ts';
import { type CallbackPolicy, checkCallbackUrl } from '../webhooks/policy.ts';
import { latestDelivery } from '../webhooks/store.ts';

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

/** Rolls a long-poll claim back when its client disconnected meanwhile. */
class ClientGone extends Error {}

const leaseLost = () => conflict('lease_lost', 'the lease token is not current or the lease has expired');

/**
 * A worker's error message as stored: U+0000 (which jsonb cannot hold) and lone
 * surrogates replaced, cut to MESSAGE_MAX_CHARS UTF-16 units without splitting a pair.
 * Workers report whatever a provider said, so this cleans rather than rejects.
 */
export function storedMessage(message: string): string {
  let m = message;
  if (m.length > MESSAGE_MAX_CHARS) {
    m = m.slice(0, MESSAGE_MAX_CHARS);
    if (/[\uD800-\uDBFF]$/.test(m)) m = m.slice(0, -1); // the cut fell inside a surrogate pair
  }
  return m.replaceAll('\u0000', '\uFFFD').toWellFormed();
}

export class JobService {
  private readonly d: JobServiceDeps;
  private readonly events: JobEvents;

  constructor(deps: JobServiceDeps) {
    this.d = deps;
    this.events = deps.events ?? noEvents;
  }

  /**
   * Creates jobs in request order (all or nothing). Idempotent items (same
   * owner_service and key) return the existing job when the request is the same,
   * 409 when it differs; each result says whether its job is new.
   */
  async create(bodies: JobCreateBody[], batch = false): Promise<CreateResult[]> {
    const at = (i: number) => (batch ? `/body/jobs/${i}` : '/body');
    if (batch)
      checkBatchPayloads(
        bodies.map((b) => b.input),
        this.d.inputLimits,
      );
    else checkPayload(bodies[0].input, '/body/input', this.d.inputLimits);
    // A batch usually repeats one callback URL: each distinct one is checked (and resolved) once.
    const checked = new Set<string>();
    for (const [i, b] of bodies.entries()) {
      if (b.callback_url) {
        if (!checked.has(b.callback_url)) await checkCallbackUrl(b.callback_url, this.d.callbackPolicy);
        checked.add(b.callback_url);
      } else if (b.callback_events)
        throw badRequest('callback_events needs a callback_url', [{ path: `${at(i)}/callback_events`, message: 'requires callback_url' }]);
    }
    const jobs = bodies.map(toNewJob);
    await this.d.queues.ensure(jobs);
    const results = await createJobs(this.d.pool, jobs);
    this.events.created(results.filter((r) => r.created).map((r) => r.job));
    return results;
  }

  async claim(req: ClaimRequest, clientGone: AbortSignal): Promise<ClaimedRow[]> {
    if (!req.model_profiles && !req.task_types)
      throw badRequest('a claim names model_profiles, task_types or both', [
        { path: '/body/model_profiles', message: 'model_profiles or task_types is required' },
      ]);
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
    while (!signal.aborted) {
      // Arm before claiming, so a job created between the claim and the wait still wakes us.
      const wake = this.d.waiters.arm(filter);
      const jobs = await this.claimIfConnected(params, signal).catch((err) => {
        wake.cancel();
        throw err;
      });
      if (jobs.length || signal.aborted || Date.now() >= deadline) {
        wake.cancel();
        return this.claimed(jobs);
      }
      await wake.wait(this.d.longPollRecheckMs, deadline, signal);
    }
    return [];
  }

  /** A long-poll claim commits only if the client is still there to receive the jobs. */
  private async claimIfConnected(params: ClaimParams, signal: AbortSignal): Promise<ClaimedRow[]> {
    return withTransaction(this.d.pool, async (client) => {
      const rows = await claimJobs(client, params);
      if (rows.length && signal.aborted) throw new ClientGone();
      return rows;
    }).catch((err) => {
      if (err instanceof ClientGone) return [];
      throw err;
    });
  }

  /** Claim requests long-polling right now in this process. */
  get waitingClaims(): number {
    return this.d.waiters.size;
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
    const [row] = await completeJobs(this.d.pool, [{ id, lease_token: token, result }]);
    if (row) {
      this.events.completed(row);
      return row;
    }
    return this.replayOrLeaseLost(id, token, 'completed');
  }

  /**
   * Completes many jobs in one statement (a worker that claimed a batch). Each item
   * gets its own outcome, as the single complete would answer it: `completed` (also
   * for a replay by the same lease), `lease_lost`, or `not_found`.
   */
  async completeMany(items: Completion[]): Promise<{ id: string; outcome: 'completed' | 'lease_lost' | 'not_found' }[]> {
    const seen = new Set<string>();
    items.forEach((it, i) => {
      checkPayload(it.result, `/body/completions/${i}/result`, this.d.resultLimits);
      if (seen.has(it.id))
        throw badRequest('a job may appear once per request', [{ path: `/body/completions/${i}/id`, message: 'duplicate id' }]);
      seen.add(it.id);
    });
    const rows = await completeJobs(this.d.pool, items);
    for (const row of rows) this.events.completed(row);
    const done = new Set(rows.map((r) => r.id));
    return Promise.all(
      items.map(async (it) => {
        if (done.has(it.id)) return { id: it.id, outcome: 'completed' as const };
        const { exists, outcome } = await leaseOutcome(this.d.pool, it.id, it.lease_token);
        if (!exists) return { id: it.id, outcome: 'not_found' as const };
        return { id: it.id, outcome: outcome === 'completed' ? ('completed' as const) : ('lease_lost' as const) };
      }),
    );
  }

  async fail(id: string, req: FailRequest): Promise<JobRow> {
    const error = { category: req.category, message: storedMessage(req.message) };
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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString();
  if (!UUID.test(id)) throw new HttpError(400, 'validation_failed', 'cursor is invalid');
  return id;
}
