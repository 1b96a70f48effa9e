// runWorker(): a small worker loop over AiServiceClient. It long-polls claims
// for as many jobs as it has free slots (at most `concurrency` at a time),
// heartbeats each job every third of its lease (so two beats can be lost before
// it runs out), and reports the handler's answer: its return value completes
// the job; a throw fails it (JobFailure sets the category and retry policy).
// A heartbeat answered 409/404 means the lease is gone (cancelled, expired,
// retried): the handler's signal aborts and nothing is reported.
// Aborting options.signal stops claiming (an open long-poll ends at once) and
// resolves once the jobs in hand are reported.
import type { AiServiceClient, ClaimedJob } from './client.js';
import { ApiError } from './errors.js';

export const HEARTBEATS_PER_LEASE = 3;
/** Pause after a failed claim, so an unreachable service is not hammered. */
const CLAIM_RETRY_MS = 1000;

export type JobResult = Record<string, unknown>;

export interface WorkerOptions {
  workerId: string;
  /** Claim from these model profiles and/or task types (at least one list). */
  modelProfiles?: string[];
  taskTypes?: string[];
  /** Jobs run at once (default 1). */
  concurrency?: number;
  /** Lease asked for on claim and on each heartbeat (default 300). */
  leaseSeconds?: number;
  /** Long-poll wait per claim, at most 30 (default 20). */
  waitSeconds?: number;
  /** Aborting it stops the loop after the jobs in hand are reported. */
  signal?: AbortSignal;
  /** Runs one job; its return value is the job's result. */
  handle(job: ClaimedJob, context: { signal: AbortSignal }): Promise<JobResult>;
  /** Errors the loop recovers from (a failed claim, heartbeat or report). Default: console.error. */
  onError?(err: unknown): void;
}

/** Throw from a handler to fail the job with a category and retry policy of your choice. */
export class JobFailure extends Error {
  readonly category: string;
  readonly retryable: boolean;
  readonly retryAfterSeconds: number | undefined;

  constructor(category: string, message: string, options: { retryable?: boolean; retryAfterSeconds?: number } = {}) {
    super(message);
    this.name = 'JobFailure';
    this.category = category;
    this.retryable = options.retryable ?? true;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export async function runWorker(client: AiServiceClient, options: WorkerOptions): Promise<void> {
  const concurrency = options.concurrency ?? 1;
  const onError = options.onError ?? ((err: unknown) => console.error(err));
  const running = new Set<Promise<void>>();
  const stop = options.signal;
  while (!stop?.aborted) {
    if (running.size >= concurrency) {
      await Promise.race(running);
      continue;
    }
    let jobs: ClaimedJob[];
    try {
      const request = {
        worker_id: options.workerId,
        model_profiles: options.modelProfiles,
        task_types: options.taskTypes,
        limit: concurrency - running.size,
        lease_seconds: options.leaseSeconds ?? 300,
        wait_seconds: options.waitSeconds ?? 20,
      };
      ({ jobs } = await client.claimJobs(request, { signal: stop }));
    } catch (err) {
      if (stop?.aborted) break;
      onError(err);
      await pause(CLAIM_RETRY_MS, stop);
      continue;
    }
    for (const job of jobs) {
      const p: Promise<void> = runJob(client, job, options, onError).finally(() => running.delete(p));
      running.add(p);
    }
  }
  await Promise.all(running);
}

async function runJob(client: AiServiceClient, job: ClaimedJob, options: WorkerOptions, onError: (err: unknown) => void): Promise<void> {
  const leaseSeconds = options.leaseSeconds ?? 300;
  const lease = new AbortController();
  const lease_token = job.lease_token;
  const beat = setInterval(
    () => {
      client.heartbeatJob(job.id, { lease_token, lease_seconds: leaseSeconds }).catch((err: unknown) => {
        if (err instanceof ApiError && (err.status === 409 || err.status === 404)) lease.abort(err);
        else onError(err);
      });
    },
    (leaseSeconds * 1000) / HEARTBEATS_PER_LEASE,
  );
  try {
    let result: JobResult;
    try {
      result = await options.handle(job, { signal: lease.signal });
    } catch (err) {
      if (!lease.signal.aborted) await client.failJob(job.id, { lease_token, ...failureOf(err) });
      return;
    }
    if (!lease.signal.aborted) await client.completeJob(job.id, { lease_token, result });
  } catch (err) {
    onError(err);
  } finally {
    clearInterval(beat);
  }
}

function failureOf(err: unknown) {
  if (err instanceof JobFailure) {
    const f = { category: err.category, message: err.message, retryable: err.retryable };
    return err.retryAfterSeconds === undefined ? f : { ...f, retry_after_seconds: err.retryAfterSeconds };
  }
  return { category: 'worker_error', message: err instanceof Error ? err.message : String(err), retryable: true };
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
