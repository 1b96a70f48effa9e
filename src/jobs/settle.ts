// Settling a held lease: heartbeat, complete (one or a batch) and fail. The store
// answers every item with its outcome in one statement; this turns outcomes into
// answers (a job, 404 or 409) and reports the changes as job events.
import type { Pool } from '../db/pool.ts';
import { badRequest, conflict, notFound } from '../http/problem.ts';
import { recordJobLifetime } from '../tracing/job-span.ts';
import type { Tracing } from '../tracing/tracing.ts';
import type { JobEvents } from './events.ts';
import type { JobRow } from './job-row.ts';
import { type Backoff, type Completion, completeJobs, failJob, heartbeat } from './settle-store.ts';
import { checkPayload, type PayloadLimits } from './validate.ts';

export const MESSAGE_MAX_CHARS = 4000;
/** Categories a failure is not retried for unless the worker says otherwise. */
const NOT_RETRYABLE_BY_DEFAULT = new Set(['invalid_input']);

export interface SettleDeps {
  pool: Pool;
  resultLimits: PayloadLimits;
  backoff: Backoff;
  events: JobEvents;
  /** A span for each job's whole life, created to finished, once it is completed or failed for good. */
  tracing: Tracing;
  /** Stores progress still coalescing for these jobs, before they are settled. */
  flushProgress: (ids: string[]) => Promise<void>;
}

export interface FailRequest {
  lease_token: string;
  category: string;
  message: string;
  retryable?: boolean;
  retry_after_seconds?: number;
}

/** The batch answer's outcome per item: a replay by the same lease is `completed`, as the single complete answers it. */
export type BatchOutcome = 'completed' | 'lease_lost' | 'not_found';

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

/** The job of a changed or replayed item; 404 / 409 for the rest. */
function answer(s: { outcome: string; job?: JobRow }): JobRow {
  if (s.outcome === 'not_found') throw notFound();
  if (s.outcome === 'lease_lost' || !s.job) throw leaseLost();
  return s.job;
}

export class Settler {
  private readonly d: SettleDeps;

  constructor(deps: SettleDeps) {
    this.d = deps;
  }

  async heartbeat(id: string, token: string, leaseSeconds?: number): Promise<{ id: string; lease_expires_at: string }> {
    const r = await heartbeat(this.d.pool, id, token, leaseSeconds);
    if (r.outcome === 'not_found') throw notFound();
    if (r.outcome === 'lease_lost' || !r.lease_expires_at) throw leaseLost();
    return { id, lease_expires_at: r.lease_expires_at };
  }

  /** A repeated complete with the token of the attempt that did it is answered with the job. */
  async complete(id: string, token: string, result: Record<string, unknown>): Promise<JobRow> {
    checkPayload(result, '/body/result', this.d.resultLimits);
    await this.d.flushProgress([id]);
    const [settled] = await completeJobs(this.d.pool, [{ id, lease_token: token, result }]);
    if (settled.outcome === 'completed') {
      this.d.events.completed(settled.job!);
      recordJobLifetime(this.d.tracing, settled.job!, settled.traceparent);
    }
    return answer(settled);
  }

  /**
   * Completes many jobs in one statement (a worker that claimed a batch). Each item
   * gets its own outcome, in request order, as the single complete would answer it.
   */
  async completeMany(items: Completion[]): Promise<{ id: string; outcome: BatchOutcome }[]> {
    const seen = new Set<string>();
    items.forEach((it, i) => {
      checkPayload(it.result, `/body/completions/${i}/result`, this.d.resultLimits);
      if (seen.has(it.id))
        throw badRequest('a job may appear once per request', [{ path: `/body/completions/${i}/id`, message: 'duplicate id' }]);
      seen.add(it.id);
    });
    await this.d.flushProgress(items.map((it) => it.id));
    const outcomes = new Map<string, BatchOutcome>();
    for (const s of await completeJobs(this.d.pool, items)) {
      if (s.outcome === 'completed') {
        this.d.events.completed(s.job!);
        recordJobLifetime(this.d.tracing, s.job!, s.traceparent);
      }
      outcomes.set(s.id, s.outcome === 'replayed' ? 'completed' : s.outcome);
    }
    return items.map((it) => ({ id: it.id, outcome: outcomes.get(it.id)! }));
  }

  /** A repeated fail with the token of the attempt that did it is answered with the job. */
  async fail(id: string, req: FailRequest): Promise<JobRow> {
    const error = { category: req.category, message: storedMessage(req.message) };
    const retryable = req.retryable ?? !NOT_RETRYABLE_BY_DEFAULT.has(req.category);
    await this.d.flushProgress([id]);
    const settled = await failJob(
      this.d.pool,
      id,
      req.lease_token,
      { error, retryable, retryAfterSeconds: req.retry_after_seconds },
      this.d.backoff,
    );
    if (settled.outcome === 'failed' || settled.outcome === 'retried' || settled.outcome === 'deferred')
      this.d.events.failed(settled.job!, req.category);
    if (settled.outcome === 'deferred') this.d.events.deferred(settled.job!, req.category);
    if (settled.outcome === 'failed') recordJobLifetime(this.d.tracing, settled.job!, settled.traceparent);
    return answer(settled);
  }
}
