// Waiting for a job's status to change, for create-and-wait (`Prefer: wait=N`) and
// `GET /jobs/{id}?wait=N`: woken by the job's status events from any replica
// (through the event hub), re-checked every LONG_POLL_RECHECK as a backstop, and
// never longer than the deadline. The caller re-reads the job afterwards.
import type { Pool } from '../db/pool.ts';
import type { JobEventHub } from './event-hub.ts';
import { getJob } from './read-store.ts';

/** `Prefer: wait=N` and `?wait=N` wait at most this long. */
export const WAIT_SECONDS_MAX = 60;

export interface WaitDeps {
  pool: Pool;
  hub: JobEventHub;
  recheckMs: number;
  stopping: AbortSignal;
}

/**
 * Resolves when job `id` has a status for which `done(status)` holds, when `ms`
 * have passed, or on abort (the client left, or shutdown).
 */
export async function waitForStatus(
  d: WaitDeps,
  id: string,
  done: (status: string) => boolean,
  ms: number,
  signal: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + ms;
  let wake: (() => void) | undefined;
  let woken = false;
  const remove = d.hub.add({
    jobId: id,
    deliver: (events) => {
      if (events.some((e) => e.kind === 'status' && done(e.data.status as string))) {
        woken = true;
        wake?.();
      }
    },
    resync: () => wake?.(),
  });
  try {
    while (!woken && !signal.aborted && !d.stopping.aborted && Date.now() < deadline) {
      const job = await getJob(d.pool, id);
      if (!job || done(job.status)) return;
      await new Promise<void>((resolve) => {
        const end = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', end);
          d.stopping.removeEventListener('abort', end);
          wake = undefined;
          resolve();
        };
        wake = end;
        const timer = setTimeout(end, Math.max(0, Math.min(d.recheckMs, deadline - Date.now())));
        signal.addEventListener('abort', end, { once: true });
        d.stopping.addEventListener('abort', end, { once: true });
        if (woken) end();
      });
    }
  } finally {
    remove();
  }
}

/** The seconds of a `Prefer: wait=N` header (capped at WAIT_SECONDS_MAX), or undefined without one. */
export function preferredWait(prefer: string | undefined): number | undefined {
  const m = /(?:^|[,;\s])wait\s*=\s*"?(\d+)"?/i.exec(prefer ?? '');
  return m ? Math.min(Number(m[1]), WAIT_SECONDS_MAX) : undefined;
}
