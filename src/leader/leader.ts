// Leader election with a PostgreSQL session advisory lock held on a dedicated
// connection. Exactly one replica holds it and runs the periodic jobs (lease reaper,
// stats rollup, purge). If that replica dies, its connection closes, the lock is
// released, and another replica takes it on its next attempt.
import pg from 'pg';
import type { Logger } from 'pino';

const LEADER_LOCK_KEY = 4_242_002;

export interface PeriodicTask {
  name: string;
  intervalMs: number;
  run: () => Promise<unknown>;
}

export class Leader {
  private client: pg.Client | undefined;
  private timers: NodeJS.Timeout[] = [];
  private electTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  isLeader = false;
  private readonly url: string;
  private readonly logger: Logger;
  private readonly tasks: PeriodicTask[];
  private readonly retryMs: number;

  constructor(url: string, logger: Logger, tasks: PeriodicTask[], retryMs = 2000) {
    this.url = url;
    this.logger = logger;
    this.tasks = tasks;
    this.retryMs = retryMs;
  }

  start(): void {
    void this.elect();
  }

  private async elect(): Promise<void> {
    if (this.stopped) return;
    try {
      if (!this.client) {
        const client = new pg.Client({ connectionString: this.url, application_name: 'ai-service-leader' });
        client.on('error', () => this.lose('connection error'));
        await client.connect();
        // stop() ran while connecting: it could not close this connection, so close it here.
        if (this.stopped) {
          await client.end().catch(() => {});
          return;
        }
        this.client = client;
      }
      const { rows } = await this.client.query('SELECT pg_try_advisory_lock($1::bigint) AS ok', [LEADER_LOCK_KEY]);
      if (rows[0].ok && !this.stopped) {
        this.isLeader = true;
        this.logger.info('this replica is now the leader (reaper, stats rollup, purge)');
        for (const t of this.tasks) this.timers.push(this.schedule(t));
        return;
      }
    } catch {
      this.lose('election failed');
    }
    this.retryLater();
  }

  private retryLater(): void {
    if (this.stopped || this.electTimer) return;
    this.electTimer = setTimeout(() => {
      this.electTimer = undefined;
      void this.elect();
    }, this.retryMs);
  }

  private schedule(task: PeriodicTask): NodeJS.Timeout {
    let running = false;
    return setInterval(async () => {
      if (running || !this.isLeader) return;
      running = true;
      try {
        await task.run();
      } catch (err) {
        this.logger.warn({ err, task: task.name }, 'periodic task failed');
      } finally {
        running = false;
      }
    }, task.intervalMs);
  }

  private lose(reason: string): void {
    if (this.isLeader) this.logger.warn({ reason }, 'leadership lost');
    this.isLeader = false;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const c = this.client;
    this.client = undefined;
    c?.end().catch(() => {});
    this.retryLater();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.electTimer);
    for (const t of this.timers) clearInterval(t);
    this.isLeader = false;
    await this.client?.end().catch(() => {});
  }
}
