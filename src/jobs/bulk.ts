// Bulk recovery: retry or cancel every job a filter matches (up to `limit`). Each
// job changes exactly as its single endpoint would change it, through the same
// statements (admin-store.ts): lease revoked, both stores, webhook by trigger. The
// work is done in chunks of at most BULK_CHUNK_MAX jobs, each its own statement and
// so its own transaction, so no lock is held for long and claims keep flowing. A job
// that changed between the read of its page and its chunk (claimed, completed, …)
// is skipped and counted.
import type { Pool } from '../db/pool.ts';
import { badRequest } from '../http/problem.ts';
import { CANCELLABLE_STATUSES, cancelJobs, RETRYABLE_STATUSES, retryJobs } from './admin-store.ts';
import { type BulkFilter, matchingIds } from './bulk-store.ts';
import type { JobEvents } from './events.ts';
import type { JobRow } from './job-row.ts';

/** Jobs changed per statement (transaction). */
export const BULK_CHUNK_MAX = 1000;

export type BulkAction = 'retry' | 'cancel';

/** A bulk request as the validator passes it, with openapi.yaml's defaults filled in. */
export interface BulkRequest {
  action: BulkAction;
  filter: BulkFilter;
  limit: number;
  dry_run: boolean;
  reset_attempts: boolean;
}

export interface BulkResult {
  matched: number;
  changed: number;
  skipped: number;
}

const ALLOWED: Record<BulkAction, string[]> = { retry: RETRYABLE_STATUSES, cancel: CANCELLABLE_STATUSES };

export interface BulkDeps {
  pool: Pool;
  events: JobEvents;
  /** Aborted at shutdown: a running bulk action stops after its current chunk and answers what it did. */
  stopping?: AbortSignal;
}

export class BulkActions {
  private readonly d: BulkDeps;

  constructor(deps: BulkDeps) {
    this.d = deps;
  }

  /** `owners`: a producer's scope (undefined: any owner service). */
  async run(req: BulkRequest, owners?: string[]): Promise<BulkResult> {
    checkStatuses(req);
    const result: BulkResult = { matched: 0, changed: 0, skipped: 0 };
    let after: string | null = null;
    while (result.matched < req.limit && !this.d.stopping?.aborted) {
      const ids = await matchingIds(this.d.pool, req.filter, owners, after, Math.min(BULK_CHUNK_MAX, req.limit - result.matched));
      if (!ids.length) break;
      after = ids[ids.length - 1];
      result.matched += ids.length;
      if (req.dry_run) continue;
      const changed = await this.change(req, ids, owners);
      result.changed += changed.length;
      result.skipped += ids.length - changed.length;
      if (ids.length < BULK_CHUNK_MAX) break;
    }
    return result;
  }

  private async change(req: BulkRequest, ids: string[], owners?: string[]): Promise<JobRow[]> {
    const statuses = req.filter.status;
    if (req.action === 'cancel') {
      const rows = await cancelJobs(this.d.pool, ids, { owners, statuses });
      for (const r of rows) this.d.events.cancelled(r);
      return rows;
    }
    const rows = await retryJobs(this.d.pool, ids, { resetAttempts: req.reset_attempts, delaySeconds: 0, owners, statuses });
    for (const r of rows) this.d.events.retried(r);
    return rows;
  }
}

/** 400 naming each status the action cannot act on. */
function checkStatuses(req: BulkRequest): void {
  const allowed = ALLOWED[req.action];
  const errors = req.filter.status
    .map((s, i) => ({ s, i }))
    .filter(({ s }) => !allowed.includes(s))
    .map(({ s, i }) => ({ path: `/body/filter/status/${i}`, message: `${req.action} acts on ${allowed.join(' or ')} jobs, not ${s}` }));
  if (errors.length) throw badRequest(`filter.status: ${req.action} acts on ${allowed.join(' or ')} jobs`, errors);
}
