// Leader election with a PostgreSQL session advisory lock held on a dedicated
// connection. Exactly one replica holds it and runs the periodic jobs (lease reaper,
// stats rollup, purge). If that replica dies, its connection closes, the lock is
// released, and another replica takes it on its next attempt.
//
// A leader must also notice when it no longer holds the lock without seeing its
// connection close: behind a dead network path that drops packets without a reset
// (a half-open connection), the server may have ended the session and released
// the lock, and another replica taken it, while this one still believes it leads.
// So the lock is re-checked every LOCK_CHECK_INTERVAL_MS in pg_locks for our own
// backend, with a client-side deadline (a black-holed query never answers), and
// the replica steps down as soon as a check fails or times out: within
// LOCK_CHECK_INTERVAL_MS + LOCK_CHECK_TIMEOUT_MS (10 s), well inside 30 s.
// TCP keepalive on both ends lets the client and the server drop such a
// connection on their own as well, which also frees the lock for the next leader.
import pg from 'pg';
import type { Logger } from 'pino';
import { reportIfVersionError } from '../db/version-guard.ts';

const LEADER_LOCK_KEY = 4_242_002;
export const LOCK_CHECK_INTERVAL_MS = 5000;
export const LOCK_CHECK_TIMEOUT_MS = 5000;
const KEEPALIVE_IDLE_SECONDS = 10;
const KEEPALIVE_INTERVAL_SECONDS = 5;
const KEEPALIVE_PROBES = 3;
/** A polite close that has not finished by then (a dead path) is cut. */
const CLOSE_TIMEOUT_MS = 1000;

export interface PeriodicTask {
  name: string;
  intervalMs: number;
  run: () => Promise<unknown>;
}

export interface LeaderOptions {
  retryMs?: number;
  /** How long a connection attempt may take (DB_CONNECT_TIMEOUT); one that never answers would block every later election. */
  connectTimeoutMs?: number;
  checkIntervalMs?: number;
  checkTimeoutMs?: number;
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
  private readonly checkIntervalMs: number;
  private readonly checkTimeoutMs: number;
  private readonly connectTimeoutMs: number;

  constructor(url: string, logger: Logger, tasks: PeriodicTask[], options: LeaderOptions = {}) {
    this.url = url;
    this.logger = logger;
    this.tasks = tasks;
    this.retryMs = options.retryMs ?? 2000;
    this.checkIntervalMs = options.checkIntervalMs ?? LOCK_CHECK_INTERVAL_MS;
    this.checkTimeoutMs = options.checkTimeoutMs ?? LOCK_CHECK_TIMEOUT_MS;
    this.connectTimeoutMs = options.connectTimeoutMs ?? LOCK_CHECK_TIMEOUT_MS;
  }

  start(): void {
    void this.elect();
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.url,
      application_name: 'ai-service-leader',
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_IDLE_SECONDS * 1000,
      // Client-side: a query on a dead path is abandoned instead of waiting forever.
      query_timeout: this.checkTimeoutMs,
      // A connect through a pooler that cannot reach its server, or to a host that is gone,
      // may never answer: without a deadline this election would wait forever.
      connectionTimeoutMillis: this.connectTimeoutMs,
    });
    // An error from a client already replaced must not drop its successor.
    client.on('error', () => {
      if (this.client === client) this.lose('connection error');
    });
    await client.connect();
    // Server-side keepalive for this session, so the server ends it (and releases the
    // lock) soon after the path dies, instead of after the OS default of hours.
    // SET rather than startup parameters, which connection poolers refuse.
    await client.query(
      `SET tcp_keepalives_idle = ${KEEPALIVE_IDLE_SECONDS}; SET tcp_keepalives_interval = ${KEEPALIVE_INTERVAL_SECONDS};` +
        ` SET tcp_keepalives_count = ${KEEPALIVE_PROBES}; SET statement_timeout = ${this.checkTimeoutMs}`,
    );
    return client;
  }

  private async elect(): Promise<void> {
    if (this.stopped) return;
    try {
      if (!this.client) {
        const client = await this.connect();
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
        this.timers.push(this.watchLock());
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

  /** True if our own backend still holds the lock (a bigint key shows as classid/objid, objsubid 1). */
  private async lockHeld(client: pg.Client): Promise<boolean> {
    const { rows } = await client.query(
      `SELECT EXISTS (
         SELECT 1 FROM pg_locks
          WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()
            AND classid = ($1::bigint >> 32)::oid AND objid = ($1::bigint & 4294967295)::oid AND objsubid = 1
       ) AS held`,
      [LEADER_LOCK_KEY],
    );
    return rows[0].held === true;
  }

  private watchLock(): NodeJS.Timeout {
    let checking = false;
    return setInterval(async () => {
      const client = this.client;
      if (checking || !this.isLeader || !client) return;
      checking = true;
      try {
        if (!(await this.lockHeld(client))) this.lose('the leader lock is no longer held');
      } catch (err) {
        if (this.client === client) this.lose(`the leader lock could not be checked: ${(err as Error).message}`);
      } finally {
        checking = false;
      }
    }, this.checkIntervalMs);
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
        reportIfVersionError(err);
      } finally {
        running = false;
      }
    }, task.intervalMs);
  }

  private lose(reason: string): void {
    if (this.isLeader) this.logger.warn({ reason }, 'leadership lost: stepping down');
    this.isLeader = false;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const c = this.client;
    this.client = undefined;
    if (c) void closeClient(c);
    this.retryLater();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.electTimer);
    for (const t of this.timers) clearInterval(t);
    this.isLeader = false;
    const c = this.client;
    this.client = undefined;
    if (c) await closeClient(c);
  }
}

/** Ends the session politely, or cuts the socket when the path is dead and the goodbye never completes. */
async function closeClient(c: pg.Client): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const cut = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      // pg has no public way to drop a connection without the goodbye round trip.
      (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
      resolve();
    }, CLOSE_TIMEOUT_MS);
  });
  await Promise.race([c.end().catch(() => {}), cut]);
  clearTimeout(timer);
}
