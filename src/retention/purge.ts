// The retention purge as a domain operation: which statuses expire when (from
// config), and a run that deletes expired jobs batch by batch until nothing is
// left, its time budget is spent, or the caller says stop (leadership lost,
// shutdown). Every batch commits on its own, so stopping or being killed at any
// point leaves both stores consistent; the next run continues where this one ended.
// Runs on the leader replica (src/server.ts) and from `npm run purge`.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Queryable } from '../db/pool.ts';
import { CURSOR_START, countExpired, PURGEABLE_STATUSES, type PurgeableStatus, purgeBatch, type QueueCount } from './purge-store.ts';

/** Rows per batch: each batch is one short transaction holding only these row locks. */
export const PURGE_BATCH_ROWS = 1000;
/** Time budget of one periodic run; the rest waits for the next run. */
export const PURGE_RUN_MAX_MS = 20_000;
/**
 * After each full batch the purge rests this fraction of the batch's time, so it never holds a
 * connection and a core for more than 5/7 of the time. Flat out at 10 M jobs it deleted 17,000
 * rows/s and raised 8 workers' claim p50 1.66-fold and p99 4.6-fold (scripts/bench/README.md);
 * resting, 14,125 rows/s with the p50 1.07-fold and p99 3.4-fold, far more than it creates.
 */
export const PURGE_REST_RATIO = 0.4;

/** Retention per terminal status in milliseconds; 0 keeps forever. */
export type RetentionPolicy = Record<PurgeableStatus, number>;

export interface PurgeOptions {
  batchRows?: number;
  /** Stop starting new batches after this long (Infinity: until done). */
  maxRunMs?: number;
  /** Checked before each batch; false stops the run. */
  shouldContinue?: () => boolean;
}

export interface PurgeResult {
  /** Rows deleted per queue and status. */
  counts: QueueCount[];
  total: number;
  batches: number;
  durationMs: number;
  /** True when nothing expired is left (the run was not cut short). */
  done: boolean;
  /** jobs rows deleted minus pgboss rows deleted: non-zero only if the stores had drifted before. */
  drift: number;
}

export interface PurgerDeps {
  db: Queryable;
  policy: RetentionPolicy;
  /** Called after each committed batch (metrics). */
  onPurged?: (counts: QueueCount[]) => void;
  /** How the purge rests between batches (a timer; tests record the calls). */
  rest?: (ms: number) => Promise<unknown>;
}

export class Purger {
  private readonly d: PurgerDeps;

  constructor(deps: PurgerDeps) {
    this.d = deps;
  }

  /** Statuses that expire, with their retention in seconds. */
  private expiring(): [PurgeableStatus, number][] {
    return PURGEABLE_STATUSES.filter((s) => this.d.policy[s] > 0).map((s) => [s, this.d.policy[s] / 1000]);
  }

  /** What a run would delete now, per queue and status (dry run). */
  async preview(): Promise<QueueCount[]> {
    const out: QueueCount[] = [];
    for (const [status, seconds] of this.expiring()) out.push(...(await countExpired(this.d.db, status, seconds)));
    return out;
  }

  async run(opts: PurgeOptions = {}): Promise<PurgeResult> {
    const limit = opts.batchRows ?? PURGE_BATCH_ROWS;
    const started = performance.now();
    const deadline = started + (opts.maxRunMs ?? PURGE_RUN_MAX_MS);
    const totals = new Map<string, QueueCount>();
    const result: PurgeResult = { counts: [], total: 0, batches: 0, durationMs: 0, done: true, drift: 0 };
    const mayGoOn = () => performance.now() < deadline && (opts.shouldContinue?.() ?? true);

    for (const [status, seconds] of this.expiring()) {
      let cursor = CURSOR_START;
      for (;;) {
        if (!mayGoOn()) {
          result.done = false;
          break;
        }
        const batchStart = performance.now();
        const batch = await purgeBatch(this.d.db, status, seconds, limit, cursor);
        result.batches++;
        result.total += batch.jobs;
        result.drift += batch.jobs - batch.boss;
        for (const c of batch.counts) {
          const key = `${c.queue}\n${c.status}`;
          const acc = totals.get(key) ?? { ...c, n: 0 };
          acc.n += c.n;
          totals.set(key, acc);
        }
        if (batch.counts.length) this.d.onPurged?.(batch.counts);
        if (batch.jobs < limit || !batch.cursor) break;
        cursor = batch.cursor;
        await (this.d.rest ?? sleep)((performance.now() - batchStart) * PURGE_REST_RATIO);
      }
      if (!result.done) break;
    }
    result.counts = [...totals.values()];
    result.durationMs = performance.now() - started;
    return result;
  }
}
