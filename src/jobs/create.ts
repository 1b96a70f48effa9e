// Creating jobs with idempotency keys. A key is unique per owner_service; a repeat
// of the same request returns the original job, a different request with the same
// key is 409. "Same request" compares a hash of the create after defaults are
// applied, so `priority: 0` and an omitted priority are the same request.
import type { Pool, PoolClient } from '../db/pool.ts';
import { withTransaction } from '../db/pool.ts';
import { badRequest, conflict } from '../http/problem.ts';
import { uuidv7 } from '../lib/ids.ts';
import { canonicalJson, sha256 } from '../lib/json.ts';
import { findByIdempotencyKeys, insertJobs, type NewJob } from './create-store.ts';
import type { JobRow } from './job-row.ts';
import type { QueueRegistry } from '../pgboss/boss.ts';
import { type CallbackPolicy, checkCallbackUrl } from '../webhooks/policy.ts';
import type { JobEvents } from './events.ts';
import { checkBatchPayloads, checkPayload, type JobCreateBody, type PayloadLimits, specDefault } from './validate.ts';

export const DEFAULT_MAX_ATTEMPTS = 3;
const DEFAULT_MAX_DEFERRALS = specDefault('MaxDeferrals') as number;
/** A replay can race with the retention purge of the original; try again this often. */
const REPLAY_TRIES = 3;

export interface CreateResult {
  job: JobRow;
  created: boolean;
}

/** `traceparent`: the trace the job continues; a replay with another one is still the same request. */
export function toNewJob(body: JobCreateBody, traceparent: string | null = null): NewJob {
  const fields = {
    owner_service: body.owner_service,
    owner_ref: body.owner_ref,
    task_type: body.task_type,
    model_profile: body.model_profile,
    priority: body.priority ?? 0,
    input: body.input,
    max_attempts: body.max_attempts ?? DEFAULT_MAX_ATTEMPTS,
    max_deferrals: body.max_deferrals ?? DEFAULT_MAX_DEFERRALS,
    start_before: body.start_before ? new Date(body.start_before).toISOString() : null,
    idempotency_key: body.idempotency_key ?? null,
    run_after: body.run_after ? new Date(body.run_after).toISOString() : null,
    callback_url: body.callback_url ?? null,
    callback_events: body.callback_events ?? null,
  };
  // The hash only tells a keyed replay from a conflict. Without a key it was half of
  // what a batch create allocated (canonical JSON of every job), so it is skipped.
  const request_hash = fields.idempotency_key === null ? null : sha256(canonicalJson(fields));
  return { id: uuidv7(), ...fields, request_hash, traceparent };
}

/** Thrown (rolling the transaction back) when a key's job vanished between the insert and the read. */
class PriorJobGone extends Error {}

const keyOf = (j: { owner_service: string; idempotency_key: string | null }) => `${j.owner_service}\u0000${j.idempotency_key}`;

/** One attempt: insert what is new, answer the rest from the jobs already holding their keys. */
async function insertOrReplay(db: Pool | PoolClient, jobs: NewJob[]): Promise<CreateResult[]> {
  const inserted = await insertJobs(db, jobs);
  const byId = new Map(inserted.map((r) => [r.id, r]));
  if (inserted.length === jobs.length) return jobs.map((j) => ({ job: byId.get(j.id)!, created: true }));
  const missing = jobs.filter((j) => !byId.has(j.id)) as (NewJob & { idempotency_key: string })[];
  const existing = await findByIdempotencyKeys(db, missing);
  const byKey = new Map(existing.map((r) => [keyOf(r), r]));
  const results: CreateResult[] = [];
  for (const j of jobs) {
    const own = byId.get(j.id);
    if (own) {
      results.push({ job: own, created: true });
      continue;
    }
    const prior = byKey.get(keyOf(j));
    if (!prior) throw new PriorJobGone(); // purged since the insert skipped it
    if (prior.request_hash !== j.request_hash)
      throw conflict('idempotency_conflict', `idempotency_key ${j.idempotency_key} was used with different content`);
    const { request_hash: _h, ...job } = prior;
    results.push({ job, created: false });
  }
  return results;
}

/**
 * Creates jobs in request order, all or nothing. Without keys every row is new and
 * one autocommit statement is atomic; with keys and several jobs, a conflict found
 * after the insert must undo the batch, so the two statements share a transaction.
 */
export async function createJobs(pool: Pool, jobs: NewJob[]): Promise<CreateResult[]> {
  const keyed = jobs.some((j) => j.idempotency_key !== null);
  for (let i = 1; ; i++) {
    try {
      return keyed && jobs.length > 1 ? await withTransaction(pool, (c) => insertOrReplay(c, jobs)) : await insertOrReplay(pool, jobs);
    } catch (err) {
      if (!(err instanceof PriorJobGone) || i >= REPLAY_TRIES) throw err;
    }
  }
}

export interface CreateDeps {
  pool: Pool;
  queues: QueueRegistry;
  inputLimits: PayloadLimits;
  callbackPolicy: CallbackPolicy;
  events: JobEvents;
}

export class JobCreator {
  private readonly d: CreateDeps;

  constructor(deps: CreateDeps) {
    this.d = deps;
  }

  /**
   * Creates jobs in request order (all or nothing). Idempotent items (same
   * owner_service and key) return the existing job when the request is the same,
   * 409 when it differs; each result says whether its job is new. Every job of the
   * request continues `traceparent` (the create request's span).
   */
  async create(bodies: JobCreateBody[], batch = false, traceparent?: string): Promise<CreateResult[]> {
    const at = (i: number) => (batch ? `/body/jobs/${i}` : '/body');
    if (batch)
      checkBatchPayloads(
        bodies.map((b) => b.input),
        this.d.inputLimits,
      );
    else checkPayload(bodies[0].input, '/body/input', this.d.inputLimits);
    // A batch usually repeats one callback URL: each distinct one is checked (and resolved) once.
    const checked = new Set<string>();
    for (const [i, b] of bodies.entries()) {
      if (b.callback_url) {
        if (!checked.has(b.callback_url)) await checkCallbackUrl(b.callback_url, this.d.callbackPolicy);
        checked.add(b.callback_url);
      } else if (b.callback_events)
        throw badRequest('callback_events needs a callback_url', [{ path: `${at(i)}/callback_events`, message: 'requires callback_url' }]);
    }
    const jobs = bodies.map((b) => toNewJob(b, traceparent ?? null));
    await this.d.queues.ensure(jobs);
    const results = await createJobs(this.d.pool, jobs).catch(async (err) => {
      if (!isQueueDropped(err)) throw err;
      // Another replica dropped an idle queue this replica still knew (src/retention/idle-queues.ts):
      // nothing was written; create the queues again and repeat the statement once.
      this.d.queues.forgetAll();
      await this.d.queues.ensure(jobs);
      return createJobs(this.d.pool, jobs);
    });
    this.d.events.created(results.filter((r) => r.created).map((r) => r.job));
    return results;
  }
}

/** pg-boss's job → queue foreign key failed: the job's queue was dropped meanwhile. */
function isQueueDropped(err: unknown): boolean {
  const e = err as { code?: string; constraint?: string };
  return e?.code === '23503' && e.constraint === 'q_fkey';
}
