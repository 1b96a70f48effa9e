// Why ready jobs wait: the policies that hold them (paused, or a cap reached), for
// GET /jobs/{id}, /api/v1/stats and /metrics. Read-only and outside any claim, so
// a figure may be a moment old; the claim itself decides under the policy locks.
import type { Queryable } from '../db/pool.ts';
import { countRunning } from '../jobs/claim-store.ts';
import { covers, type Lane, type Policy } from './policy.ts';

/** The capped policies whose running count has reached max_running. */
export async function fullCaps(db: Queryable, policies: readonly Policy[]): Promise<Policy[]> {
  const caps = policies.filter((p) => p.max_running !== null);
  if (!caps.length) return [];
  const running = await countRunning(db, caps);
  return caps.filter((c) => (running.get(c.id) ?? 0) >= (c.max_running ?? 0));
}

/** The ids of the policies holding a ready job of this lane back (empty: nothing holds it). */
export async function heldBy(db: Queryable, policies: readonly Policy[], lane: Lane): Promise<number[]> {
  const relevant = policies.filter((p) => covers(p, lane) && (p.paused || p.max_running !== null));
  if (!relevant.length) return [];
  const full = new Set((await fullCaps(db, relevant)).map((p) => p.id));
  return relevant.filter((p) => p.paused || full.has(p.id)).map((p) => p.id);
}

export interface QueueHolds {
  held_paused: number;
  held_capped: number;
  /** Every job of the queue is paused (a paused policy without owner_service covers it). */
  paused: boolean;
}

/** Per queue: ready jobs held by a pause or by a full cap (a paused lane counts as paused only). */
export async function queueHolds(db: Queryable, policies: readonly Policy[]): Promise<Map<string, QueueHolds>> {
  const holds = new Map<string, QueueHolds>();
  const paused = policies.filter((p) => p.paused);
  const full = await fullCaps(db, policies);
  if (!paused.length && !full.length) return holds;
  const { rows: lanes } = await db.query<Lane & { queue: string }>(`SELECT queue, owner_service, task_type, model_profile FROM job_lanes`);
  const held = lanes.flatMap((l) => {
    const isPaused = paused.some((p) => covers(p, l));
    return isPaused || full.some((p) => covers(p, l)) ? [{ ...l, isPaused }] : [];
  });
  for (const l of lanes) {
    const queuePaused = paused.some((p) => p.scope.owner_service === undefined && covers(p, l));
    if (queuePaused) holds.set(l.queue, { held_paused: 0, held_capped: 0, paused: true });
  }
  if (!held.length) return holds;
  const { rows } = await db.query(
    `SELECT x.i, (SELECT count(*) FROM jobs j WHERE j.queue = x.queue AND j.owner_service = x.owner_service
                    AND j.status = 'pending' AND NOT j.delayed)::int AS n
     FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS x (queue, owner_service, i)`,
    [held.map((l) => l.queue), held.map((l) => l.owner_service)],
  );
  for (const r of rows) {
    const l = held[Number(r.i) - 1];
    const h = holds.get(l.queue) ?? { held_paused: 0, held_capped: 0, paused: false };
    if (l.isPaused) h.held_paused += r.n;
    else h.held_capped += r.n;
    holds.set(l.queue, h);
  }
  return holds;
}

export interface OwnerRunning {
  owner_service: string;
  model_profile: string;
  running: number;
  /** The tightest cap covering all of this owner's jobs of the profile; null: none. */
  max_running: number | null;
}

/** Running jobs per owner service and model profile, next to the cap that applies. */
export async function runningByOwner(db: Queryable, policies: readonly Policy[]): Promise<OwnerRunning[]> {
  const { rows } = await db.query<{ owner_service: string; model_profile: string; running: number }>(
    `SELECT owner_service, model_profile, count(*)::int AS running FROM jobs WHERE status = 'running'
     GROUP BY 1, 2 ORDER BY 1, 2`,
  );
  const caps = policies.filter((p) => p.max_running !== null && p.scope.task_type === undefined);
  return rows.map((r) => {
    const lane = { owner_service: r.owner_service, model_profile: r.model_profile, task_type: '' };
    const limits = caps.filter((p) => covers(p, lane)).map((p) => p.max_running as number);
    return { ...r, max_running: limits.length ? Math.min(...limits) : null };
  });
}
