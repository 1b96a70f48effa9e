// Long-poll support. The process's LISTEN connection (src/db/listen.ts) receives the queue name
// whenever a job becomes claimable now (the jobs triggers call pg_notify on every
// path: create, retry, lease expiry). Waiting claim requests register a filter and
// are woken when a matching queue is notified. Delayed jobs that become due do not
// notify, so waiters also re-check on a timer (LONG_POLL_RECHECK).
import type { ListenConnection } from '../db/listen.ts';

export const JOBS_CHANNEL = 'ai_service_jobs';

export interface WaitFilter {
  modelProfiles?: string[];
  taskTypes?: string[];
}

interface Waiter {
  filter: WaitFilter;
  wake: () => void;
}

function matches(filter: WaitFilter, queue: string): boolean {
  const slash = queue.indexOf('/');
  const taskType = queue.slice(0, slash);
  const profile = queue.slice(slash + 1);
  if (filter.modelProfiles && !filter.modelProfiles.includes(profile)) return false;
  if (filter.taskTypes && !filter.taskTypes.includes(taskType)) return false;
  return true;
}

export class Waiters {
  private readonly waiters = new Set<Waiter>();

  constructor(connection: ListenConnection) {
    connection.listen(JOBS_CHANNEL, {
      onNotification: (queue) => this.notify(queue),
      // Anything notified while we were disconnected is caught by waking everyone once.
      onConnected: () => this.wakeAll(),
    });
  }

  private notify(queue: string): void {
    for (const w of this.waiters) if (matches(w.filter, queue)) w.wake();
  }

  /**
   * Registers interest before the caller looks for work, so a notification that
   * arrives in between is not lost. wait() resolves at once if one already came,
   * else on the next matching notification, after `recheckMs`, on abort, or at
   * `deadline` (epoch ms), whichever is first.
   */
  arm(filter: WaitFilter): { wait: (recheckMs: number, deadline: number, signal: AbortSignal) => Promise<void>; cancel: () => void } {
    let woken = false;
    let resolveWait: (() => void) | undefined;
    const waiter: Waiter = {
      filter,
      wake: () => {
        woken = true;
        resolveWait?.();
      },
    };
    this.waiters.add(waiter);
    const cancel = () => {
      this.waiters.delete(waiter);
    };
    const wait = (recheckMs: number, deadline: number, signal: AbortSignal) =>
      new Promise<void>((resolve) => {
        if (woken || signal.aborted) {
          cancel();
          resolve();
          return;
        }
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          cancel();
          resolve();
        };
        resolveWait = done;
        const timer = setTimeout(done, Math.max(0, Math.min(recheckMs, deadline - Date.now())));
        signal.addEventListener('abort', done, { once: true });
      });
    return { wait, cancel };
  }

  /** Wakes every waiting claim: after a policy change (held jobs may be claimable), a reconnect, at shutdown. */
  wakeAll(): void {
    for (const w of this.waiters) w.wake();
  }

  get size(): number {
    return this.waiters.size;
  }
}
