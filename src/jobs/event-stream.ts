// Server-Sent Events for callers: a stream per job (ends after the job's terminal
// status) or per owner_ref (open until the caller leaves). A stream starts with a
// replay from the event log (everything after Last-Event-ID, or each job's latest
// status and progress) and continues with the events the hub reads after each
// notification; listening starts before the replay, so nothing falls in between,
// and events are sent once each, in id order per job. Streams are bounded per
// replica (EVENT_STREAMS_MAX, 503 beyond) and end at shutdown.
import type { Response } from 'express';
import type { Pool } from '../db/pool.ts';
import { unavailable } from '../http/problem.ts';
import type { EventListener, JobEventHub } from './event-hub.ts';
import { type JobEvent, ownerKey, replayEvents, type StreamScope } from './event-store.ts';

export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);

export interface EventStreamDeps {
  pool: Pool;
  hub: JobEventHub;
  maxStreams: number;
  keepAliveMs: number;
  stopping: AbortSignal;
}

export interface OpenStream {
  scope: StreamScope;
  /** Last-Event-ID: resume after this event. */
  afterId?: string;
  /** The job was already finished when the stream was asked for: end after the replay. */
  finished?: boolean;
}

/** One SSE message; `data` is one line of JSON. */
export function sseMessage(e: JobEvent): string {
  return `id: ${e.id}\nevent: ${e.kind}\ndata: ${JSON.stringify(e.data)}\n\n`;
}

export class EventStreams {
  private open = 0;
  private readonly d: EventStreamDeps;

  constructor(deps: EventStreamDeps) {
    this.d = deps;
  }

  get count(): number {
    return this.open;
  }

  /** Answers the request with an event stream; 503 when this replica serves its maximum already. */
  async start(res: Response, o: OpenStream): Promise<void> {
    if (this.open >= this.d.maxStreams)
      throw unavailable('too_many_streams', `this replica serves at most ${this.d.maxStreams} event streams; try again`);
    this.open++;
    const perJob = 'jobId' in o.scope;
    const floor = o.afterId === undefined ? -1n : BigInt(o.afterId);
    const lastSent = new Map<string, bigint>();
    let ready = false;
    let closed = false;
    const early: JobEvent[] = [];

    const send = (events: JobEvent[]) => {
      for (const e of events) {
        if (closed) return;
        const id = BigInt(e.id);
        if (id <= floor || id <= (lastSent.get(e.job_id) ?? -1n)) continue;
        lastSent.set(e.job_id, id);
        res.write(sseMessage(e));
        if (perJob && e.kind === 'status' && TERMINAL_STATUSES.has(e.data.status as string)) close();
      }
    };
    const catchUp = async () => {
      const after = [...lastSent.values()].reduce((a, b) => (b > a ? b : a), floor);
      const events = await replayEvents(this.d.pool, o.scope, after < 0n ? undefined : String(after));
      send(events);
    };
    const listener: EventListener = {
      ...(perJob ? { jobId: (o.scope as { jobId: string }).jobId } : { owner: ownerKeyOf(o.scope) }),
      deliver: (events) => (ready ? send(events) : early.push(...events)),
      resync: () => {
        if (ready) catchUp().catch(() => close());
      },
    };
    const remove = this.d.hub.add(listener);
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), this.d.keepAliveMs);
    const close = () => {
      if (closed) return;
      closed = true;
      this.open--;
      remove();
      clearInterval(keepAlive);
      this.d.stopping.removeEventListener('abort', close);
      res.end();
    };
    res.on('close', close);
    this.d.stopping.addEventListener('abort', close, { once: true });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    res.flushHeaders();
    try {
      const replay = await replayEvents(this.d.pool, o.scope, o.afterId);
      ready = true;
      send(replay);
      send(early.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1)));
      if (o.finished) close();
    } catch {
      // The status line is sent already: ending the stream is the answer; the client resumes.
      close();
    }
  }
}

function ownerKeyOf(scope: StreamScope): string {
  const s = scope as { owner_service: string; owner_ref: string };
  return ownerKey(s.owner_service, s.owner_ref);
}
