// Claiming, in SQL. A claim is a few statements in one transaction (claim.ts runs them):
//   1. lockCaps + countRunning: the capped policies that may cover the claim are locked
//      FOR UPDATE in id order, then (in a new snapshot, which sees every claim that held
//      the lock before) their running jobs are counted, bounded by max_running.
//   2. readHeads: the heads of each lane the claim matches (see LaneMode), at most
//      `limit` per lane, cut to `limit` per owner, with each owner's fair-share pass.
//      Paused lanes and lanes of a full cap are not read.
//   3. takeFromLanes: takes the counts fair-share.ts allocated per lane, locking with
//      SKIP LOCKED (concurrent claimers on any replica take the next jobs of a lane,
//      never the same job), starts a new attempt with a fresh lease token, marks the
//      pg-boss rows active at the matching retry_count (pg-boss's own fence), and moves
//      the owners' passes, all in one statement.
// Cost: lanes × limit index entries for step 2 and the claimed rows for step 3, never
// the number of pending, delayed or held jobs (both lane indexes leave delayed jobs out).
import pg from 'pg';
import type { Queryable } from '../db/pool.ts';
import type { Policy } from '../policies/policy.ts';
import { BOSS_JOB, bossRowOf, bossStart, bothStoresMoved } from '../pgboss/mirror.ts';
import { JOB_COLUMNS, type JobRow } from './job-row.ts';

/** `traceparent`: the trace the job continues, for the worker to carry on (src/tracing). */
export type ClaimedRow = JobRow & { attempt: number; lease_token: string; traceparent: string | null };

/** One job at the head of a lane, with its owner's pass in the model profile. */
export interface Head {
  id: string;
  priority: number;
  queue: string;
  owner_service: string;
  task_type: string;
  model_profile: string;
  /** The owner's pass; null when the owner has never been served in this profile. */
  pass: number | null;
  /** The profile's clock (the lowest pass of the owners that last competed); null at first. */
  clock: number | null;
}

/**
 * Serializes the claims of each model profile (their clock rows, in name order) for the
 * rest of the transaction, so every claim allocates from the passes the previous one
 * wrote: concurrent claimers would otherwise decide from the same passes and the
 * split between owners would drift by up to a claim per claimer. A profile without a
 * clock yet (never claimed) gets one at its first claim.
 */
export async function lockClocks(db: Queryable, modelProfiles: string[]): Promise<void> {
  await db.query(lockClocksSql(modelProfiles));
}

/**
 * lockClocks as one plain statement with its values in it, so a claim that locks first
 * sends it with its BEGIN (claim.ts, claimBegin): one round trip fewer, of five.
 */
export function lockClocksSql(modelProfiles: string[]): string {
  const names = modelProfiles.map((mp) => pg.escapeLiteral(mp)).join(', ');
  return `SELECT 1 FROM fair_clock WHERE model_profile IN (${names}) ORDER BY model_profile FOR UPDATE`;
}

/** Locks the policies (in id order, so claimers never deadlock); returns their current cap and pause. */
export async function lockCaps(db: Queryable, ids: number[]): Promise<{ id: number; max_running: number | null; paused: boolean }[]> {
  const { rows } = await db.query({
    name: 'claim-lock-caps',
    text: `SELECT id::int AS id, max_running, paused FROM policies WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE`,
    values: [ids],
  });
  return rows;
}

/** Running jobs per capped policy, each count stopping at its max_running. */
export async function countRunning(db: Queryable, caps: Policy[]): Promise<Map<number, number>> {
  const { rows } = await db.query({
    name: 'claim-count-running',
    text: `SELECT c.id, (SELECT count(*) FROM (
               SELECT 1 FROM jobs j WHERE j.status = 'running'
                 AND (c.o IS NULL OR j.owner_service = c.o) AND (c.t IS NULL OR j.task_type = c.t)
                 AND (c.p IS NULL OR j.model_profile = c.p)
               LIMIT c.m) s)::int AS running
           FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::int[]) AS c (id, o, t, p, m)`,
    values: [
      caps.map((c) => c.id),
      caps.map((c) => c.scope.owner_service ?? null),
      caps.map((c) => c.scope.task_type ?? null),
      caps.map((c) => c.scope.model_profile ?? null),
      caps.map((c) => c.max_running),
    ],
  });
  return new Map(rows.map((r) => [r.id, r.running]));
}

/**
 * How lanes are cut. `owner`: one lane per (model_profile, owner_service), read from
 * jobs_owner_lane_idx: a claim naming only model profiles reads `limit` entries per
 * owner, however many queues the profile has. `queue`: one lane per (queue,
 * owner_service), from jobs_lane_idx: for claims naming task types, and when a
 * pause or cap names a task type (it holds part of an owner's profile lane, which
 * must then not be read or taken as a whole).
 */
export type LaneMode = 'owner' | 'queue';

export interface HeadsParams {
  mode: LaneMode;
  modelProfiles?: string[];
  taskTypes?: string[];
  limit: number;
  /** Scopes whose lanes are not read: paused policies and caps already full. */
  excluded: Policy['scope'][];
}

const EXCLUDED = `NOT EXISTS (
      SELECT 1 FROM unnest($3::text[], $4::text[], $5::text[]) AS x (o, t, p)
      WHERE (x.o IS NULL OR x.o = l.owner_service) AND (x.t IS NULL OR x.t = l.task_type)
        AND (x.p IS NULL OR x.p = l.model_profile))`;
// Each lane's owner pass and profile clock: a primary-key lookup per lane, in a
// materialized CTE so they are looked up once per lane, not once per head. (Joined
// instead, the generic plan hashed all of fair_share for 21 lanes.)
const PASS_AND_CLOCK = `(SELECT f.pass FROM fair_share f WHERE f.model_profile = l.model_profile AND f.owner_service = l.owner_service) AS pass,
  (SELECT c.pass FROM fair_clock c WHERE c.model_profile = l.model_profile) AS clock`;

// Heads are only for the allocation: the take skips jobs whose pg-boss row is no longer
// queued (changed through pg-boss's own tools) and takes the lane's next ones.
// Two statements, not `$1 IS NULL OR …`: a generic plan for that OR cannot use
// job_lanes_profile_idx and reads every lane of every profile. The 'all' statement still
// names $1 (always null there) so both take the same parameters.
const headsByQueue = (profiles: 'named' | 'all') => `
WITH lanes AS MATERIALIZED (
  SELECT l.queue, l.owner_service, l.task_type, l.model_profile, ${PASS_AND_CLOCK} FROM job_lanes l
  WHERE ${profiles === 'named' ? 'l.model_profile = ANY($1::text[])' : '$1::text[] IS NULL'}
    AND ($2::text[] IS NULL OR l.task_type = ANY($2::text[]))
    AND ${EXCLUDED}
),
heads AS (
  SELECT l.queue, l.owner_service, l.task_type, l.model_profile, l.pass, l.clock, h.id, h.priority,
         row_number() OVER (PARTITION BY l.model_profile, l.owner_service ORDER BY h.priority DESC, h.id) AS rank
  FROM lanes l CROSS JOIN LATERAL (
    SELECT j.id, j.priority FROM jobs j
    WHERE j.queue = l.queue AND j.owner_service = l.owner_service AND j.status = 'pending' AND NOT j.delayed
    ORDER BY j.priority DESC, j.id
    LIMIT $6::int
  ) h
)
SELECT h.id, h.priority, h.queue, h.owner_service, h.task_type, h.model_profile, h.pass, h.clock
FROM heads h
WHERE h.rank <= $6::int`;
const HEADS_BY_QUEUE = { named: headsByQueue('named'), all: headsByQueue('all') };

const HEADS_BY_OWNER = `
WITH lanes AS MATERIALIZED (
  SELECT l.owner_service, l.model_profile, ${PASS_AND_CLOCK} FROM (
    SELECT DISTINCT l.owner_service, l.model_profile FROM job_lanes l
    -- owner lanes serve claims without task types ($2 is null)
    WHERE l.model_profile = ANY($1::text[]) AND $2::text[] IS NULL AND ${EXCLUDED}
  ) l
)
SELECT h.id, h.priority, h.queue, l.owner_service, h.task_type, l.model_profile, l.pass, l.clock
FROM lanes l CROSS JOIN LATERAL (
  SELECT j.id, j.priority, j.queue, j.task_type FROM jobs j
  WHERE j.model_profile = l.model_profile AND j.owner_service = l.owner_service AND j.status = 'pending' AND NOT j.delayed
  ORDER BY j.priority DESC, j.id
  LIMIT $6::int
) h`;

export async function readHeads(db: Queryable, p: HeadsParams): Promise<Head[]> {
  // owner lanes are whole (profile, owner) pairs: an excluded scope naming a task type never reaches here
  const profiles = p.modelProfiles ? 'named' : 'all';
  const { rows } = await db.query({
    name: p.mode === 'owner' ? 'claim-heads-owner' : `claim-heads-queue-${profiles}`,
    text: p.mode === 'owner' ? HEADS_BY_OWNER : HEADS_BY_QUEUE[profiles],
    values: [
      p.modelProfiles ?? null,
      p.taskTypes ?? null,
      p.excluded.map((s) => s.owner_service ?? null),
      p.excluded.map((s) => s.task_type ?? null),
      p.excluded.map((s) => s.model_profile ?? null),
      p.limit,
    ],
  });
  return rows;
}

/** How many jobs to take from one lane (`queue` is ignored for owner lanes). */
export interface LaneTake {
  queue: string;
  model_profile: string;
  owner_service: string;
  count: number;
}

/** An owner's pass after the claim: pass = max(pass, start) + claimed / weight. */
export interface PassMove {
  model_profile: string;
  owner_service: string;
  start: number;
  weight: number;
}

export interface TakeParams {
  mode: LaneMode;
  workerId: string;
  leaseSeconds: number;
  takes: LaneTake[];
  passes: PassMove[];
  /** New clock per model profile (only ever moves forward). */
  clocks: { model_profile: string; pass: number }[];
}

const take = (lane: string) => `
WITH picked AS (
  SELECT h.id FROM unnest($1::text[], $12::text[], $2::text[], $3::int[]) AS t (queue, model_profile, owner_service, n)
  CROSS JOIN LATERAL (
    SELECT j.id FROM jobs j
    -- a job whose pg-boss row is no longer queued (fetched, cancelled or deleted through
    -- pg-boss's own tools) is skipped until the adoption pass settles it; locking the
    -- pg-boss row too keeps it queued until this claim commits
    JOIN ${BOSS_JOB} p ON ${bossRowOf('p', 'j')} AND p.state < 'active'
    WHERE ${lane} AND j.owner_service = t.owner_service AND j.status = 'pending' AND NOT j.delayed
      -- never handed to a worker after its start_before (the expiry task cancels it soon after)
      AND (j.start_before IS NULL OR j.start_before > now())
    ORDER BY j.priority DESC, j.id
    LIMIT t.n
    FOR UPDATE OF j, p SKIP LOCKED
  ) h
),
claimed AS (
  UPDATE jobs j
  SET status = 'running', attempts = j.attempts + 1, worker_id = $4::text, lease_token = gen_random_uuid(),
      lease_seconds = $5::int, lease_expires_at = now() + make_interval(secs => $5::int), started_at = now(), updated_at = now()
  FROM picked WHERE j.id = picked.id
  RETURNING j.*
),
boss AS (${bossStart('claimed')}),
attempt AS (
  INSERT INTO job_attempts (job_id, attempt, worker_id, lease_token, lease_expires_at)
  SELECT id, attempts, worker_id, lease_token, lease_expires_at FROM claimed
),
served AS (
  SELECT model_profile, owner_service, count(*) AS n FROM claimed GROUP BY 1, 2
),
moves AS (
  SELECT m.model_profile, m.owner_service, m.start, s.n::float8 / m.weight AS step
  FROM unnest($6::text[], $7::text[], $8::float8[], $9::int[]) AS m (model_profile, owner_service, start, weight)
  JOIN served s USING (model_profile, owner_service)
),
-- pass = max(pass, start) + step, written as an increment (the pass of the row at the
-- time of the write + step, or start + step), so concurrent claims add up
passes AS (
  INSERT INTO fair_share AS f (model_profile, owner_service, pass)
  SELECT model_profile, owner_service, start + step FROM moves
  ON CONFLICT (model_profile, owner_service) DO UPDATE
    SET pass = GREATEST(f.pass + (SELECT m.step FROM moves m
                                  WHERE m.model_profile = EXCLUDED.model_profile AND m.owner_service = EXCLUDED.owner_service),
                        EXCLUDED.pass)
),
clocks AS (
  INSERT INTO fair_clock (model_profile, pass)
  SELECT * FROM unnest($10::text[], $11::float8[])
  ON CONFLICT (model_profile) DO UPDATE SET pass = GREATEST(fair_clock.pass, EXCLUDED.pass)
)
SELECT ${JOB_COLUMNS}, attempts AS attempt, lease_token, traceparent
FROM claimed
WHERE ${bothStoresMoved('boss', 'claimed', 'claim')}
ORDER BY priority DESC, id`;
const TAKE = { queue: take('j.queue = t.queue'), owner: take('j.model_profile = t.model_profile') };

const TAKE_NAME = 'claim-take-';
/** The take's statement names: the statement a claim commits with (claim.ts). */
export const isTake = (statementName: string) => statementName.startsWith(TAKE_NAME);

export async function takeFromLanes(db: Queryable, p: TakeParams): Promise<ClaimedRow[]> {
  const { rows } = await db.query({
    name: `${TAKE_NAME}${p.mode}`,
    text: TAKE[p.mode],
    values: [
      p.takes.map((t) => t.queue),
      p.takes.map((t) => t.owner_service),
      p.takes.map((t) => t.count),
      p.workerId,
      p.leaseSeconds,
      p.passes.map((m) => m.model_profile),
      p.passes.map((m) => m.owner_service),
      p.passes.map((m) => m.start),
      p.passes.map((m) => m.weight),
      p.clocks.map((c) => c.model_profile),
      p.clocks.map((c) => c.pass),
      p.takes.map((t) => t.model_profile),
    ],
  });
  return rows;
}
