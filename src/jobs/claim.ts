// Claiming with long-poll: a claim that finds nothing waits (up to wait_seconds)
// for a LISTEN wake-up from waiters.ts, re-claiming on each wake and every
// longPollRecheckMs as a backstop (pg-boss's NOTIFY does not cover every way a job
// becomes claimable). Each claim is one transaction of a few statements
// (claim-store.ts) with the order decided in between by fair-share.ts. A long-poll claim commits only if its client is still there.
import type { Pool, Queryable } from '../db/pool.ts';
import { withBatchedTransactionRetried } from '../db/pool.ts';
import { badRequest } from '../http/problem.ts';
import { capsForClaim, type Policy } from '../policies/policy.ts';
import {
  type ClaimedRow,
  countRunning,
  type Head,
  isTake,
  lockCaps,
  lockClocks,
  lockClocksSql,
  readHeads,
  takeFromLanes,
} from './claim-store.ts';
import { allocate } from './fair-share.ts';
import type { JobEvents } from './events.ts';
import type { Waiters } from './waiters.ts';

export interface ClaimDeps {
  pool: Pool;
  waiters: Waiters;
  longPollRecheckMs: number;
  /** Aborted at shutdown: long polls return at once. */
  stopping: AbortSignal;
  events: JobEvents;
  /** The policies in force (src/policies/cache.ts). */
  policies: () => readonly Policy[];
}

export interface ClaimParams {
  workerId: string;
  modelProfiles?: string[];
  taskTypes?: string[];
  limit: number;
  leaseSeconds: number;
}

/**
 * One claim inside the caller's transaction: lock the profiles' fair-share clocks when
 * owners compete (below), lock and count the caps that may apply, read the lanes' heads
 * (paused lanes and full caps left out), allocate the slots fairly within the caps,
 * take the jobs. `capped` says a cap left ready jobs behind. `contended` holds the model
 * profiles whose owners competed at the last look; the claim brings it up to date.
 */
export async function claimJobs(
  db: Queryable,
  p: ClaimParams,
  policies: readonly Policy[],
  contended: Set<string> = new Set(),
  clocksLocked?: string[],
): Promise<{ rows: ClaimedRow[]; capped: boolean }> {
  const excluded = policies.filter((x) => x.paused).map((x) => x.scope);
  const remaining = new Map<number, number>();
  let caps = capsForClaim(policies, p.modelProfiles, p.taskTypes);
  let capFull = false;
  // The clock lock serializes a profile's claims so each allocates from the passes the
  // previous one wrote. It is taken first when caps may apply (clocks before caps, so
  // claimers never deadlock) or when owners competed in one of the claim's profiles at
  // the last look; otherwise only once the heads show owners competing, and the heads are
  // read again under it. Either way a claim locks clocks once, in profile order. A profile
  // with one owner needs no order between its claims (its pass only grows), so its
  // claimers run side by side. `clocksLocked`: the caller locked them with its BEGIN.
  const capsApply = caps.length > 0;
  const first = clocksLocked ?? clocksToLockFirst(p, policies, contended);
  const lockFirst = first.length > 0;
  if (lockFirst && !clocksLocked) await lockClocks(db, first);
  if (capsApply) {
    const locked = new Map(
      (
        await lockCaps(
          db,
          caps.map((c) => c.id),
        )
      ).map((r) => [r.id, r]),
    );
    // the locked row is the truth when the cache is a moment behind
    caps = caps.flatMap((c) => {
      const row = locked.get(c.id);
      return row && row.max_running !== null && !row.paused ? [{ ...c, max_running: row.max_running }] : [];
    });
    const running = await countRunning(db, caps);
    for (const c of caps) {
      const left = (c.max_running ?? 0) - (running.get(c.id) ?? 0);
      remaining.set(c.id, left);
      if (left <= 0) {
        excluded.push(c.scope);
        capFull = true;
      }
    }
  }
  // owner lanes unless a claim or a holding policy cuts by task type (claim-store.ts, LaneMode)
  const mode =
    p.taskTypes || !p.modelProfiles || policies.some((x) => (x.paused || x.max_running !== null) && x.scope.task_type !== undefined)
      ? 'queue'
      : 'owner';
  const read = () => readHeads(db, { mode, modelProfiles: p.modelProfiles, taskTypes: p.taskTypes, limit: p.limit, excluded });
  let heads = await read();
  let competing = ownersCompete(heads);
  if (competing.length && !lockFirst && !capsApply) {
    await lockClocks(db, competing);
    heads = await read(); // a new snapshot: it sees the passes of every claim that held the lock before
    competing = ownersCompete(heads);
  }
  for (const mp of p.modelProfiles ?? []) contended.delete(mp);
  for (const mp of competing) contended.add(mp);
  const a = allocate(heads, p.limit, mode, policies, caps, remaining);
  const capped = a.capped || (capFull && heads.length < p.limit);
  if (!a.takes.length) return { rows: [], capped };
  const rows = await takeFromLanes(db, {
    mode,
    workerId: p.workerId,
    leaseSeconds: p.leaseSeconds,
    takes: a.takes,
    passes: a.passes,
    clocks: a.clocks,
  });
  return { rows, capped };
}

/** The model profiles whose clocks a claim locks before it reads anything (claimJobs): none, or all of its own. */
export function clocksToLockFirst(p: ClaimParams, policies: readonly Policy[], contended: ReadonlySet<string>): string[] {
  if (p.modelProfiles === undefined) return [];
  const capsApply = capsForClaim(policies, p.modelProfiles, p.taskTypes).length > 0;
  return capsApply || p.modelProfiles.some((mp) => contended.has(mp)) ? p.modelProfiles : [];
}

/** The model profiles in which the heads belong to more than one owner. */
function ownersCompete(heads: Head[]): string[] {
  const firstOwner = new Map<string, string>();
  const competing = new Set<string>();
  for (const h of heads) {
    const owner = firstOwner.get(h.model_profile);
    if (owner === undefined) firstOwner.set(h.model_profile, h.owner_service);
    else if (owner !== h.owner_service) competing.add(h.model_profile);
  }
  return [...competing].sort();
}

/**
 * A claim's statements run on generic plans. Left to choose, PostgreSQL plans the heads and
 * take statements afresh on every call (their array parameters make each custom plan look
 * cheaper than the generic one), which cost 1.1 ms of a 2.8 ms claim at 100,000 pending jobs;
 * the generic plans use the same lane indexes (test/jobs/plans.test.ts). Without named
 * statements (DB_PREPARED_STATEMENTS=false) every statement is planned anyway.
 *
 * And without bitmap scans: a generic plan does not know a lane's `LIMIT`, and at 10 M jobs
 * (1,250 ready jobs per lane) it read the whole lane through a bitmap scan, joined every row
 * to pg-boss and sorted, to take one job: 7,300 buffers and 32 ms mean per claim. The lane
 * index walked in order stops after `limit` entries (11 buffers).
 *
 * And without sequential scans: fair_share is small (owners × profiles), so the generic plan
 * scanned all of it for each lane's pass, dead rows of every earlier claim included. With 21
 * lanes at 420 rows that was 1.5 ms of a 2.4 ms heads read; by primary key it is 0.1 ms.
 * Every table a claim reads has the index it needs (test/jobs/plans.test.ts).
 */
export const CLAIM_BEGIN =
  'BEGIN; SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off';

/** CLAIM_BEGIN, and the clocks' lock when the claim takes it first: one round trip for both. */
export const claimBegin = (clocks: string[]) => (clocks.length ? `${CLAIM_BEGIN}; ${lockClocksSql(clocks)}` : CLAIM_BEGIN);

/** A claim as the validator passes it: limit, lease_seconds and wait_seconds carry openapi.yaml's defaults. */
export interface ClaimRequest {
  worker_id: string;
  model_profiles?: string[];
  task_types?: string[];
  limit: number;
  lease_seconds: number;
  wait_seconds: number;
}

/** Rolls a long-poll claim back when its client disconnected meanwhile. */
class ClientGone extends Error {}

export class Claimer {
  private readonly d: ClaimDeps;
  /** Model profiles whose owners competed at this process's last claim there (claimJobs). */
  private readonly contended = new Set<string>();

  constructor(deps: ClaimDeps) {
    this.d = deps;
  }

  async claim(req: ClaimRequest, clientGone: AbortSignal): Promise<ClaimedRow[]> {
    if (!req.model_profiles && !req.task_types)
      throw badRequest('a claim names model_profiles, task_types or both', [
        { path: '/body/model_profiles', message: 'model_profiles or task_types is required' },
      ]);
    const signal = AbortSignal.any([clientGone, this.d.stopping]);
    const params = {
      workerId: req.worker_id,
      modelProfiles: req.model_profiles,
      taskTypes: req.task_types,
      limit: req.limit,
      leaseSeconds: req.lease_seconds,
    };
    const waitMs = req.wait_seconds * 1000;
    if (waitMs === 0) return this.claimed(await this.claimTransaction(params));
    const deadline = Date.now() + waitMs;
    const filter = { modelProfiles: req.model_profiles, taskTypes: req.task_types };
    while (!signal.aborted) {
      // Arm before claiming, so a job created between the claim and the wait still wakes us.
      const wake = this.d.waiters.arm(filter);
      const jobs = await this.claimIfConnected(params, signal).catch((err) => {
        wake.cancel();
        throw err;
      });
      if (jobs.length || signal.aborted || Date.now() >= deadline) {
        wake.cancel();
        return this.claimed(jobs);
      }
      await wake.wait(this.d.longPollRecheckMs, deadline, signal);
    }
    return [];
  }

  /** Claim requests long-polling right now in this process. */
  get waiting(): number {
    return this.d.waiters.size;
  }

  private async claimIfConnected(params: ClaimParams, signal: AbortSignal): Promise<ClaimedRow[]> {
    return this.claimTransaction(params, () => signal.aborted).catch((err) => {
      if (err instanceof ClientGone) return [];
      throw err;
    });
  }

  /**
   * One claim transaction, in two round trips when it can (src/db/batch.ts): BEGIN (with the
   * clock lock) goes with the heads, COMMIT with the take. A long-poll claim commits on its
   * own, after it checked `gone`: it rolls back (ClientGone) when its client left meanwhile.
   */
  private claimTransaction(params: ClaimParams, gone?: () => boolean): Promise<ClaimedRow[]> {
    // a claim that loses a lock race with another (fair-share rows, caps) runs again
    const policies = this.d.policies();
    const clocks = clocksToLockFirst(params, policies, this.contended);
    return withBatchedTransactionRetried(
      this.d.pool,
      async (db) => {
        const { rows, capped } = await claimJobs(db, params, policies, this.contended, clocks);
        if (capped) this.d.events.capShortened();
        if (rows.length && gone?.()) throw new ClientGone();
        return rows;
      },
      claimBegin(clocks),
      gone ? undefined : isTake,
    );
  }

  private claimed(rows: ClaimedRow[]): ClaimedRow[] {
    if (rows.length) this.d.events.claimed(rows);
    return rows;
  }
}
