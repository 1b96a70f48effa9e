// Claiming with long-poll: a claim that finds nothing waits (up to wait_seconds)
// for a LISTEN wake-up from waiters.ts, re-claiming on each wake and every
// longPollRecheckMs as a backstop (pg-boss's NOTIFY does not cover every way a job
// becomes claimable). A long-poll claim commits only if its client is still there.
import type { Pool } from '../db/pool.ts';
import { withTransaction } from '../db/pool.ts';
import { badRequest } from '../http/problem.ts';
import { type ClaimedRow, type ClaimParams, claimJobs } from './claim-store.ts';
import type { JobEvents } from './events.ts';
import type { Waiters } from './waiters.ts';

export interface ClaimDeps {
  pool: Pool;
  waiters: Waiters;
  longPollRecheckMs: number;
  /** Aborted at shutdown: long polls return at once. */
  stopping: AbortSignal;
  events: JobEvents;
}

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
    if (waitMs === 0) return this.claimed(await claimJobs(this.d.pool, params));
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
    return withTransaction(this.d.pool, async (client) => {
      const rows = await claimJobs(client, params);
      if (rows.length && signal.aborted) throw new ClientGone();
      return rows;
    }).catch((err) => {
      if (err instanceof ClientGone) return [];
      throw err;
    });
  }

  private claimed(rows: ClaimedRow[]): ClaimedRow[] {
    if (rows.length) this.d.events.claimed(rows);
    return rows;
  }
}
