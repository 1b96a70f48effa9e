// The job domain, one part per seam: create, claim (with long-poll), settle
// (heartbeat, complete, fail), admin actions (retry, cancel, and both in bulk) and read. Each part
// turns requests into one storage statement or transaction that writes `jobs` and
// pg-boss together, and reports committed changes through `events` (the lease
// reaper reports through the same path). This class only builds the parts from
// one set of dependencies.
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.ts';
import type { Policy } from '../policies/policy.ts';
import type { QueueRegistry } from '../pgboss/boss.ts';
import { noTracing, type Tracing } from '../tracing/tracing.ts';
import type { CallbackPolicy } from '../webhooks/policy.ts';
import { JobAdmin } from './admin.ts';
import { BulkActions } from './bulk.ts';
import { Claimer } from './claim.ts';
import type { ClaimedRow } from './claim-store.ts';
import { JobCreator } from './create.ts';
import type { JobEventHub } from './event-hub.ts';
import { EventStreams } from './event-stream.ts';
import { type JobEvents, noEvents } from './events.ts';
import { waitForStatus } from './job-wait.ts';
import { ProgressReporter } from './progress.ts';
import { JobReader } from './read.ts';
import { Settler } from './settle.ts';
import type { Backoff } from './settle-store.ts';
import type { PayloadLimits } from './validate.ts';
import type { Waiters } from './waiters.ts';

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
  tracing?: Tracing;
  /** The policies in force (src/policies/cache.ts); none when absent. */
  policies?: () => readonly Policy[];
  /** Job events from any replica (streams, create-and-wait). */
  hub: JobEventHub;
  streamsMax: number;
  keepAliveMs: number;
  logger: Logger;
}

export class JobService {
  readonly events: JobEvents;
  readonly creator: JobCreator;
  readonly claimer: Claimer;
  readonly settler: Settler;
  readonly admin: JobAdmin;
  readonly bulk: BulkActions;
  readonly reader: JobReader;
  readonly progress: ProgressReporter;
  readonly streams: EventStreams;
  readonly hub: JobEventHub;
  private readonly d: JobServiceDeps;

  constructor(d: JobServiceDeps) {
    const events = d.events ?? noEvents;
    this.events = events;
    this.creator = new JobCreator({ pool: d.pool, queues: d.queues, inputLimits: d.inputLimits, callbackPolicy: d.callbackPolicy, events });
    this.claimer = new Claimer({
      pool: d.pool,
      waiters: d.waiters,
      longPollRecheckMs: d.longPollRecheckMs,
      stopping: d.stopping,
      events,
      policies: d.policies ?? (() => []),
    });
    this.progress = new ProgressReporter(d.pool, d.logger);
    this.settler = new Settler({
      pool: d.pool,
      resultLimits: d.resultLimits,
      backoff: d.backoff,
      events,
      tracing: d.tracing ?? noTracing,
      flushProgress: (ids) => this.progress.flush(ids),
    });
    this.admin = new JobAdmin({ pool: d.pool, events });
    this.bulk = new BulkActions({ pool: d.pool, events, stopping: d.stopping });
    this.reader = new JobReader(d.pool, d.policies);
    this.streams = new EventStreams({
      pool: d.pool,
      hub: d.hub,
      maxStreams: d.streamsMax,
      keepAliveMs: d.keepAliveMs,
      stopping: d.stopping,
    });
    this.hub = d.hub;
    this.d = d;
  }

  /** Waits (at most `ms`) until job `id` has a status for which `done` holds. */
  waitForStatus(id: string, done: (status: string) => boolean, ms: number, signal: AbortSignal): Promise<void> {
    const { pool, hub, longPollRecheckMs: recheckMs, stopping } = this.d;
    return waitForStatus({ pool, hub, recheckMs, stopping }, id, done, ms, signal);
  }

  /**
   * Gives back jobs claimed for a client that disconnected after the claim committed but
   * before it was answered: a deferral (category worker_shutdown, claimable at once), so
   * they neither wait out a lease nobody holds nor cost an attempt.
   */
  async handBackUnanswered(jobs: ClaimedRow[]): Promise<void> {
    for (const job of jobs) {
      await this.settler
        .fail(job.id, {
          lease_token: job.lease_token,
          category: 'worker_shutdown',
          message: 'the claiming client disconnected before the claim was answered',
          retryable: true,
          retry_after_seconds: 0,
        })
        .catch(() => {}); // already reaped or settled: nothing left to give back
    }
  }

  /** Claim requests long-polling right now in this process. */
  get waitingClaims(): number {
    return this.claimer.waiting;
  }
}
