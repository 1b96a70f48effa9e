// Long-poll support. One LISTEN connection per process receives the queue name
// whenever a job becomes claimable now (the jobs triggers call pg_notify on every
// path: create, retry, lease expiry). Waiting claim requests register a filter and
// are woken when a matching queue is notified. Delayed jobs that become due do not
// notify, so waiters also re-check on a timer (LONG_POLL_RECHECK).
import pg from 'pg';
import type { Logger } from 'pino';

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
  private client: pg.Client | undefined;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly url: string;
  private readonly logger: Logger;
  private readonly connectTimeoutMs: number;

  /** connectTimeoutMs (DB_CONNECT_TIMEOUT): a connect that never answers would otherwise end LISTEN for good. */
  constructor(url: string, logger: Logger, { connectTimeoutMs = 3000 }: { connectTimeoutMs?: number } = {}) {
    this.url = url;
    this.logger = logger;
    this.connectTimeoutMs = connectTimeoutMs;
  }

  async start(): Promise<void> {
    try {
      const client = new pg.Client({
        connectionString: this.url,
        application_name: 'ai-service-listen',
        connectionTimeoutMillis: this.connectTimeoutMs,
        // A dead path that drops packets without a reset ends in an error, and a reconnect.
        keepAlive: true,
      });
      client.on('notification', (msg) => this.notify(msg.payload ?? ''));
      client.on('error', () => this.reconnect());
      client.on('end', () => this.reconnect());
      await client.connect();
      await client.query(`LISTEN ${JOBS_CHANNEL}`);
      this.client = client;
      // Anything notified while we were disconnected is caught by waking everyone once.
      for (const w of this.waiters) w.wake();
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'LISTEN connection failed; retrying');
      this.reconnect();
    }
  }

  private reconnect(): void {
    const c = this.client;
    this.client = undefined;
    c?.removeAllListeners();
    c?.on('error', () => {});
    c?.end().catch(() => {});
    if (this.stopped || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.start();
    }, 1000);
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

  /** Wakes every waiting claim (a policy change may have made held jobs claimable). */
  wakeAll(): void {
    for (const w of this.waiters) w.wake();
  }

  get size(): number {
    return this.waiters.size;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    for (const w of this.waiters) w.wake();
    const c = this.client;
    this.client = undefined;
    c?.removeAllListeners();
    c?.on('error', () => {});
    await c?.end().catch(() => {});
  }
}
