// Progress reports from workers, coalesced: at most one stored write per job per
// PROGRESS_WRITE_INTERVAL_MS on this replica (2 per second), so a chatty worker
// cannot load the database. The first report of a window is stored at once; the
// later ones only check the lease (a read) and are merged into one pending update
// (latest wins; fields a report leaves out keep the pending value), stored when the
// window ends. A report neither extends the lease nor counts an attempt.
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.ts';
import { conflict, notFound } from '../http/problem.ts';
import { checkLease, type ProgressOutcome, type ProgressUpdate, storeProgress } from './progress-store.ts';
import { checkPayload, type PayloadLimits } from './validate.ts';

export const PROGRESS_WRITE_INTERVAL_MS = 500;
/** `output` is a partial result, replaced by each report. */
export const PROGRESS_OUTPUT_LIMITS: PayloadLimits = { maxBytes: 64 * 1024, maxDepth: 64 };

interface Window {
  pending?: { token: string; update: ProgressUpdate };
  timer: NodeJS.Timeout;
}

export interface ProgressReport extends ProgressUpdate {
  lease_token: string;
}

export class ProgressReporter {
  private readonly windows = new Map<string, Window>();
  private readonly pool: Pool;
  private readonly logger: Logger;
  private readonly intervalMs: number;

  constructor(pool: Pool, logger: Logger, intervalMs = PROGRESS_WRITE_INTERVAL_MS) {
    this.pool = pool;
    this.logger = logger;
    this.intervalMs = intervalMs;
  }

  /** `stored` = written now; `coalesced` = the lease holds and the report will be written when the window ends. */
  async report(id: string, r: ProgressReport): Promise<'stored' | 'coalesced'> {
    if (r.output !== undefined) checkPayload(r.output, '/body/output', PROGRESS_OUTPUT_LIMITS);
    const update: ProgressUpdate = { fraction: r.fraction, message: r.message, output: r.output };
    const open = this.windows.get(id);
    if (!open) {
      answer(await this.write(id, r.lease_token, update));
      return 'stored';
    }
    answer(await checkLease(this.pool, id, r.lease_token));
    const merged = { ...open.pending?.update };
    for (const [k, v] of Object.entries(update)) if (v !== undefined) (merged as Record<string, unknown>)[k] = v;
    // The window may have closed while the lease was checked: then this report opens a new one.
    const current = this.windows.get(id);
    if (!current) {
      answer(await this.write(id, r.lease_token, merged));
      return 'stored';
    }
    current.pending = { token: r.lease_token, update: merged };
    return 'coalesced';
  }

  /** Writes now and opens a window; when it ends, the pending update (if any) is written and opens the next. */
  private async write(id: string, token: string, update: ProgressUpdate): Promise<ProgressOutcome> {
    const window: Window = { timer: setTimeout(() => this.closeWindow(id, window), this.intervalMs) };
    this.windows.set(id, window);
    try {
      return await storeProgress(this.pool, id, token, update);
    } catch (err) {
      clearTimeout(window.timer);
      this.windows.delete(id);
      throw err;
    }
  }

  private closeWindow(id: string, window: Window): void {
    if (this.windows.get(id) === window) this.windows.delete(id);
    const p = window.pending;
    if (!p) return;
    // A lease lost meanwhile (the job finished) drops the update: progress belongs to a held lease.
    this.write(id, p.token, p.update).catch((err) => this.logger.warn({ err: (err as Error).message, jobId: id }, 'progress write failed'));
  }

  /**
   * Writes now what is pending for these jobs, so a worker's last report before it
   * completes or fails the job is stored (and streamed) ahead of the status change.
   */
  async flush(ids: string[]): Promise<void> {
    for (const id of ids) {
      const window = this.windows.get(id);
      const p = window?.pending;
      if (!window || !p) continue;
      window.pending = undefined;
      await storeProgress(this.pool, id, p.token, p.update).catch((err) =>
        this.logger.warn({ err: (err as Error).message, jobId: id }, 'progress write failed'),
      );
    }
  }

  /** Drops pending updates (shutdown). */
  stop(): void {
    for (const w of this.windows.values()) clearTimeout(w.timer);
    this.windows.clear();
  }
}

function answer(outcome: ProgressOutcome): void {
  if (outcome === 'not_found') throw notFound();
  if (outcome === 'lease_lost') throw conflict('lease_lost', 'the lease token is not current or the lease has expired');
}
