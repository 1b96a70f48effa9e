// Runs one claimed job: the executor, heartbeats every LEASE_CHECK_MAX_MS (or
// every third of the lease, if shorter), then complete or fail with a category.
//
// The heartbeat doubles as the lease check: a job cancelled or retried while it
// runs has its lease revoked, the next heartbeat answers 409 lease_lost, and the
// provider call is aborted, so the worker learns within about 4 s (see README).
//
// The job's AbortSignal ends the wait on the executor (and the provider request
// through undici) for two reasons:
//   - the lease is lost (a heartbeat answered 409/404: expired, cancelled,
//     retried by an admin): nothing is reported, someone else owns the job now;
//   - the worker gives the job back (HandBack): shutdown past its grace period
//     (category worker_shutdown, claimable again at once) or the lane's circuit
//     opening (provider_unavailable, after the service's backoff). Both are
//     retryable infrastructure categories.
// complete/fail are retried while the service is unreachable, but only while
// the lease lasts: after that the service has already settled the attempt.
import type { Logger } from 'pino';
import { type AiServiceClient, ApiError, type Body, type ClaimedJob, type Job } from '../client/index.ts';
import { fromThrown, ProviderError } from './providers/errors.ts';
import { type ProgressUpdate, ProgressSender } from './progress.ts';
import { backoffMs, sleep } from './backoff.ts';
import type { Executor, JsonObject } from './executor.ts';
import type { Span, Tracing } from '../tracing/tracing.ts';

export const HEARTBEATS_PER_LEASE = 3;
/** The longest gap between lease checks: a cancel or retry reaches a running job within this plus one round trip. */
export const LEASE_CHECK_MAX_MS = 4000;

export type Outcome = 'completed' | 'retried' | 'failed' | 'cancelled' | 'lease_lost' | 'unreported';

/** How a job ended for this worker; `category` is set when it was reported as failed. */
export interface Finished {
  outcome: Outcome;
  category: string | undefined;
}

type Failure = Omit<Body<'failJob'>, 'lease_token'>;

/** The worker stops waiting for a job and reports it with this retryable failure. */
export class HandBack extends Error {
  readonly failure: Failure;

  constructor(failure: Failure) {
    super(failure.message);
    this.name = 'HandBack';
    this.failure = failure;
  }
}

/** Shutdown past the grace period: another worker may claim the job at once. */
export const shutdownHandBack = () =>
  new HandBack({
    category: 'worker_shutdown',
    message: 'the worker shut down before the job finished',
    retryable: true,
    retry_after_seconds: 0,
  });

/** The lane's circuit opened: the job waits out the service's backoff, as it would after a failed call. */
export const circuitHandBack = (profile: string) =>
  new HandBack({
    category: 'provider_unavailable',
    message: `the worker's circuit for ${profile} opened after consecutive provider failures; handed back unfinished`,
    retryable: true,
  });

class LeaseLost extends Error {
  constructor(code: string) {
    super(`the lease was lost (${code})`);
    this.name = 'LeaseLost';
  }
}

export interface RunnerDeps {
  client: AiServiceClient;
  logger: Logger;
  /** Spans in the job's trace (its claimed `traceparent`): claim, provider call, complete/fail. */
  tracing: Tracing;
  leaseSeconds: number;
  /** When the claim that returned the job was sent (epoch ms): the claim span's start. */
  claimedFrom: number;
}

export class JobRunner {
  readonly job: ClaimedJob;
  /** Settles (never rejects) when the job is reported or given up. */
  readonly done: Promise<Finished>;
  private readonly abort = new AbortController();
  private readonly d: RunnerDeps;
  private readonly log: Logger;
  private leaseEndsAt: number;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(job: ClaimedJob, executor: Executor, deps: RunnerDeps) {
    this.job = job;
    this.d = deps;
    this.log = deps.logger.child({ jobId: job.id, queue: `${job.task_type}/${job.model_profile}`, attempt: job.attempt });
    this.leaseEndsAt = Date.parse(job.lease_expires_at ?? '') || Date.now() + deps.leaseSeconds * 1000;
    this.done = this.run(executor);
  }

  /** Stop waiting for the executor and give the job back with the reason's failure. */
  handBack(reason: HandBack): void {
    if (!this.abort.signal.aborted) this.abort.abort(reason);
  }

  /** A span of this job's trace (a child of the span that created the job). */
  private span(name: string, startTime?: number): Span {
    const { id, task_type, model_profile, attempt } = this.job;
    return this.d.tracing.start(name, {
      parent: this.job.traceparent,
      kind: 'client',
      startTime,
      attributes: { 'ai_service.job.id': id, 'ai_service.job.queue': `${task_type}/${model_profile}`, 'ai_service.job.attempt': attempt },
    });
  }

  private async run(executor: Executor): Promise<Finished> {
    const started = performance.now();
    this.log.info('job started');
    this.span('claim', this.d.claimedFrom).end();
    this.scheduleHeartbeat();
    const progress = new ProgressSender(this.d.client, this.job, this.log);
    let outcome: Outcome;
    let category: string | undefined;
    try {
      const result = await this.execute(executor, progress);
      await progress.finish();
      this.stopHeartbeats();
      outcome = await this.complete(result);
    } catch (err) {
      progress.stop();
      this.stopHeartbeats();
      const failure = this.failureOf(err);
      category = failure?.category;
      outcome = failure ? await this.fail(failure) : 'lease_lost';
    }
    const duration_ms = Math.round(performance.now() - started);
    this.log.info({ outcome, category, duration_ms }, 'job finished');
    return { outcome, category };
  }

  /** The executor's run, in the span whose traceparent goes to the provider. */
  private async execute(executor: Executor, progress: ProgressSender): Promise<JsonObject> {
    const span = this.span('provider call');
    try {
      const { id, task_type, model_profile, attempt } = this.job;
      const ctx = {
        id,
        task_type,
        model_profile,
        attempt,
        signal: this.abort.signal,
        logger: this.log,
        traceparent: span.traceparent,
        progress: (u: ProgressUpdate) => progress.report(u),
      };
      return await untilAborted(executor.run(this.job.input, ctx), this.abort.signal);
    } catch (err) {
      span.fail(brief(err).message);
      throw err;
    } finally {
      span.end();
    }
  }

  private failureOf(err: unknown): Failure | undefined {
    const reason = this.abort.signal.aborted ? this.abort.signal.reason : undefined;
    if (reason instanceof LeaseLost) return undefined;
    if (reason instanceof HandBack) return reason.failure;
    // Anything but a ProviderError is a bug in an executor: log it whole, report it briefly.
    if (!(err instanceof ProviderError)) this.log.error({ err }, 'executor threw an unexpected error');
    const e = fromThrown('executor', err);
    const f: Failure = { category: e.category, message: e.message, retryable: e.retryable };
    if (e.retryAfterSeconds !== undefined) f.retry_after_seconds = e.retryAfterSeconds;
    return f;
  }

  private async complete(result: JsonObject): Promise<Outcome> {
    const span = this.span('complete');
    const traceparent = span.traceparent;
    try {
      return await this.settle(() =>
        this.d.client.completeJob(this.job.id, { lease_token: this.job.lease_token, result }, { traceparent }),
      );
    } catch (err) {
      if (err instanceof ApiError && err.status === 413) {
        const message = `the result is too large for the service: ${err.problem?.detail ?? ''}`.trim();
        return this.fail({ category: 'result_too_large', message, retryable: false });
      }
      this.log.error({ error: brief(err) }, 'could not report the result');
      span.fail(brief(err).message);
      return 'unreported';
    } finally {
      span.end();
    }
  }

  private async fail(f: Failure): Promise<Outcome> {
    const span = this.span('fail');
    span.setAttributes({ 'ai_service.error.category': f.category });
    const traceparent = span.traceparent;
    try {
      return await this.settle(() => this.d.client.failJob(this.job.id, { lease_token: this.job.lease_token, ...f }, { traceparent }));
    } catch (err) {
      this.log.error({ error: brief(err) }, 'could not report the failure');
      span.fail(brief(err).message);
      return 'unreported' as const;
    } finally {
      span.end();
    }
  }

  /** Sends complete/fail, retrying transient errors while the lease lasts. Rethrows other API errors. */
  private async settle(send: () => Promise<Job>): Promise<Outcome> {
    for (let n = 1; ; n++) {
      try {
        return outcomeOf(await send());
      } catch (err) {
        if (err instanceof ApiError && (err.status === 409 || err.status === 404)) return 'lease_lost';
        const wait = backoffMs(n, 200, 5000);
        if (!transient(err) || Date.now() + wait >= this.leaseEndsAt) throw err;
        this.log.warn({ error: brief(err), retry_in_ms: wait }, 'reporting the job failed; retrying');
        await sleep(wait);
      }
    }
  }

  /** Beats keep a fixed cadence from when each was sent, so a slow answer does not push the next one late. */
  private scheduleHeartbeat(delayMs = heartbeatEveryMs(this.d.leaseSeconds)): void {
    this.heartbeat = setTimeout(async () => {
      const sent = performance.now();
      await this.beat();
      const everyMs = heartbeatEveryMs(this.d.leaseSeconds);
      if (this.heartbeat) this.scheduleHeartbeat(Math.max(0, everyMs - (performance.now() - sent)));
    }, delayMs);
  }

  private stopHeartbeats(): void {
    clearTimeout(this.heartbeat);
    this.heartbeat = undefined;
  }

  private async beat(): Promise<void> {
    try {
      const r = await this.d.client.heartbeatJob(this.job.id, { lease_token: this.job.lease_token });
      this.leaseEndsAt = Date.parse(r.lease_expires_at);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 409 || err.status === 404)) {
        this.log.warn({ code: err.code }, 'lease lost: abandoning the job');
        this.stopHeartbeats();
        this.abort.abort(new LeaseLost(err.code));
      } else {
        this.log.warn({ error: brief(err) }, 'heartbeat failed; will retry');
      }
    }
  }
}

/** Two beats can be lost before a lease runs out, and a revoked lease is noticed within LEASE_CHECK_MAX_MS. */
export function heartbeatEveryMs(leaseSeconds: number): number {
  return Math.min((leaseSeconds * 1000) / HEARTBEATS_PER_LEASE, LEASE_CHECK_MAX_MS);
}

function outcomeOf(job: Job): Outcome {
  if (job.status === 'pending') return 'retried';
  if (job.status === 'completed' || job.status === 'failed' || job.status === 'cancelled') return job.status;
  return 'unreported';
}

/** Service errors worth retrying: no answer at all, or a 5xx/429. */
export function transient(err: unknown): boolean {
  if (err instanceof ApiError) return err.status >= 500 || err.status === 429 || err.status === 408;
  return true;
}

/** An error fit for a log line: no stack for expected failures, no payloads. */
export function brief(err: unknown): { name: string; code?: string; message: string } {
  const e = err as { name?: string; code?: unknown; message?: string };
  return { name: e?.name ?? 'Error', code: typeof e?.code === 'string' ? e.code : undefined, message: String(e?.message ?? err) };
}

/** The executor's promise, or the signal's reason as soon as it aborts. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  p.catch(() => {}); // it may settle after we stopped waiting
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
