// Job events for this replica's listeners (event streams, create-and-wait). The
// process's LISTEN connection (src/db/listen.ts) receives the id range of every
// committed batch of job events (migration 007's trigger, the progress statement),
// from any replica. While someone listens, the hub reads the announced events of the
// jobs and owners listened to (one query per batch of notifications, shared by all
// listeners) and hands them over in id order. After a reconnect each listener
// re-syncs from the log, since notifications sent meanwhile are lost.
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.ts';
import type { ListenConnection } from '../db/listen.ts';
import { eventsInRange, type JobEvent, ownerKey } from './event-store.ts';
import { PROGRESS_EVENTS_CHANNEL } from './progress-store.ts';

export interface EventListener {
  /** Listens to this job's events… */
  jobId?: string;
  /** …or to those of every job of this owner (an ownerKey). */
  owner?: string;
  deliver(events: JobEvent[]): void;
  /** The connection was re-established: events may have been missed. */
  resync(): void;
}

export class JobEventHub {
  private readonly byJob = new Map<string, Set<EventListener>>();
  private readonly byOwner = new Map<string, Set<EventListener>>();
  private readonly pool: Pool;
  private readonly logger: Logger;
  /** The id range announced and not yet read; read one batch at a time, in order. */
  private pending: { first: bigint; last: bigint } | undefined;
  private reading = false;

  constructor(connection: ListenConnection, pool: Pool, logger: Logger) {
    this.pool = pool;
    this.logger = logger;
    connection.listen(PROGRESS_EVENTS_CHANNEL, {
      onNotification: (payload) => this.announced(payload),
      onConnected: () => {
        for (const set of [...this.byJob.values(), ...this.byOwner.values()]) for (const l of set) l.resync();
      },
    });
  }

  add(l: EventListener): () => void {
    const [map, key] = l.jobId ? [this.byJob, l.jobId] : [this.byOwner, l.owner!];
    const set = map.get(key) ?? new Set<EventListener>();
    map.set(key, set);
    set.add(l);
    return () => {
      set.delete(l);
      if (!set.size) map.delete(key);
    };
  }

  private announced(payload: string): void {
    if (!this.byJob.size && !this.byOwner.size) return;
    const [a, b] = payload.split(' ');
    const first = BigInt(a);
    const last = BigInt(b ?? a);
    this.pending = this.pending
      ? { first: first < this.pending.first ? first : this.pending.first, last: last > this.pending.last ? last : this.pending.last }
      : { first, last };
    if (!this.reading) void this.readPending();
  }

  private async readPending(): Promise<void> {
    this.reading = true;
    while (this.pending) {
      const { first, last } = this.pending;
      this.pending = undefined;
      try {
        const events = await eventsInRange(this.pool, String(first), String(last), [...this.byJob.keys()], [...this.byOwner.keys()]);
        this.dispatch(events);
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'reading job events failed; listeners re-sync');
        for (const set of [...this.byJob.values(), ...this.byOwner.values()]) for (const l of set) l.resync();
      }
    }
    this.reading = false;
  }

  private dispatch(events: JobEvent[]): void {
    const batches = new Map<EventListener, JobEvent[]>();
    const add = (set: Set<EventListener> | undefined, e: JobEvent) => {
      for (const l of set ?? []) {
        const list = batches.get(l);
        if (list) list.push(e);
        else batches.set(l, [e]);
      }
    };
    for (const e of events) {
      add(this.byJob.get(e.job_id), e);
      add(this.byOwner.get(ownerKey(e.owner_service, e.owner_ref)), e);
    }
    for (const [l, list] of batches) l.deliver(list);
  }

  get listeners(): number {
    let n = 0;
    for (const set of [...this.byJob.values(), ...this.byOwner.values()]) n += set.size;
    return n;
  }
}
