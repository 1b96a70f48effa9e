// Scenarios 12-15: the claim with shared-capacity policies (src/policies) and with
// delayed jobs. Service only: pg-boss has no fair share, caps or pause to compare
// with, so the "baseline" column of scenario 13 is the service itself without policies.
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { seedJobs } from '../../test/support/seed.ts';
import { INPUT, type QueueRef, spreadQueues } from './driver.ts';
import { BENCH_TOKENS } from './env.ts';
import type { HttpDriver } from './http-driver.ts';
import { type LoopResult, perSecond, pMs, runLoops, sample } from './load.ts';
import { CONCURRENCY, type Context, measured, type Metric } from './scenario.ts';
import { vacuumAnalyze } from './tables.ts';

const QUEUES = 20;
const OWNERS = 20;
const LATENCY_TIME_MS = { full: 10_000, quick: 1000 };
const DRAIN_LIMIT_MS = { full: 30_000, quick: 5000 };
const owners = Array.from({ length: OWNERS }, (_, i) => `owner-${String(i).padStart(2, '0')}`);

async function putPolicy(ctx: Context, body: object): Promise<void> {
  const res = await request(`${ctx.service.url}/api/v1/policies`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${BENCH_TOKENS.admin}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`PUT policy: ${res.statusCode} ${text}`);
}

/** `count` pending jobs per owner, round-robin over the queues. */
async function seedOwners(ctx: Context, queues: QueueRef[], names: string[], count: number, deferred = 0): Promise<void> {
  for (const owner_service of names)
    await seedJobs(ctx.serviceSql, { queues, count, status: 'pending', spacingMs: 1, owner_service, input: INPUT, deferred });
}

/** Claim (limit 1) latency; each claimed job is completed untimed, as a worker would. */
async function claimLatencies(ctx: Context, http: HttpDriver, queues: QueueRef[]) {
  const opts = { samples: ctx.sizes.latencySamples, durationMs: ctx.quick ? LATENCY_TIME_MS.quick : LATENCY_TIME_MS.full };
  return sample(opts, async (i) => {
    const t0 = performance.now();
    const jobs = await http.claim(queues, 1, i);
    const ms = performance.now() - t0;
    if (jobs.length !== 1) throw new Error(`claimed ${jobs.length} jobs from a full backlog`);
    await http.complete(jobs);
    return ms;
  });
}

function latencyMetrics(scenario: number, name: string, h: Histogram, note: string): Metric[] {
  return [
    { scenario, name: `${name} p50`, unit: 'ms', value: pMs(h, 50), baseline: null, note },
    { scenario, name: `${name} p99`, unit: 'ms', value: pMs(h, 99), baseline: null, target: { max: 10 } },
  ];
}
type Histogram = Awaited<ReturnType<typeof sample>>;

export async function fairClaimLatency(ctx: Context): Promise<Metric[]> {
  const queues = spreadQueues('bench-s12', QUEUES);
  await ctx.warmQueues(queues);
  const per = Math.ceil(ctx.sizes.spreadPending / OWNERS);
  ctx.log(`  seeding ${per * OWNERS} ready jobs over ${OWNERS} owners and ${QUEUES} queues; weights 1-4`);
  await seedOwners(ctx, queues, owners, per);
  for (const [i, owner_service] of owners.entries()) await putPolicy(ctx, { scope: { owner_service }, weight: 1 + (i % 4) });
  await vacuumAnalyze(ctx.serviceSql);
  const http = ctx.http(1);
  try {
    const h = await claimLatencies(ctx, http, queues);
    return latencyMetrics(
      12,
      'fair claim (1) latency',
      h,
      `${per * OWNERS} ready over ${OWNERS} owners × ${QUEUES} queues (400 lanes), weights 1-4`,
    );
  } finally {
    await http.close();
  }
}

/** 8 workers claim 50 and complete them over one profile's 20 queues and 20 owners until empty. */
async function drain(ctx: Context, http: HttpDriver, queues: QueueRef[]): Promise<LoopResult> {
  const durationMs = ctx.quick ? DRAIN_LIMIT_MS.quick : DRAIN_LIMIT_MS.full;
  return measured(ctx, () =>
    runLoops({ concurrency: CONCURRENCY, durationMs }, async (w) => {
      const jobs = await http.claim(queues, 50, w);
      if (!jobs.length) return null;
      await http.complete(jobs);
      return jobs.length;
    }),
  );
}

export async function fairThroughput(ctx: Context): Promise<Metric[]> {
  const plain = spreadQueues('bench-s13-plain', QUEUES);
  const fair = spreadQueues('bench-s13-fair', QUEUES);
  await ctx.warmQueues([...plain, ...fair]);
  const per = Math.ceil(ctx.sizes.claimPending / OWNERS);
  for (const queues of [plain, fair]) await seedOwners(ctx, queues, owners, per);
  // weights for every owner and a cap on the profile that is never reached: the claim
  // takes the lock-and-count path on every call
  for (const [i, owner_service] of owners.entries())
    await putPolicy(ctx, { scope: { owner_service, model_profile: 'bench-s13-fair' }, weight: 1 + (i % 4) });
  await putPolicy(ctx, { scope: { model_profile: 'bench-s13-fair' }, max_running: 100_000 });
  await vacuumAnalyze(ctx.serviceSql);
  const http = ctx.http(CONCURRENCY);
  try {
    const without = await drain(ctx, http, plain);
    const withPolicies = await drain(ctx, http, fair);
    return [
      {
        scenario: 13,
        name: `claim (50) + complete, ${per * OWNERS} pending, with policies`,
        unit: 'jobs/s',
        value: perSecond(withPolicies),
        baseline: perSecond(without),
        target: { minRatio: 0.8 },
        note: `baseline = the same drain without policies; ${OWNERS} owners × ${QUEUES} queues; with: 20 weights and a cap on the profile`,
      },
    ];
  } finally {
    await http.close();
  }
}

export async function heldClaimLatency(ctx: Context): Promise<Metric[]> {
  const queues = spreadQueues('bench-s14', QUEUES);
  await ctx.warmQueues(queues);
  const held = ctx.sizes.spreadPending;
  ctx.log(`  seeding ${held} held jobs (half paused, half behind a cap of 0) and ready ones`);
  await seedOwners(ctx, queues, ['held-paused', 'held-capped'], held / 2);
  await seedOwners(ctx, queues, ['ready'], ctx.sizes.latencySamples + 100);
  await putPolicy(ctx, { scope: { owner_service: 'held-paused' }, paused: true });
  await putPolicy(ctx, { scope: { owner_service: 'held-capped', model_profile: 'bench-s14' }, max_running: 0 });
  await vacuumAnalyze(ctx.serviceSql);
  const http = ctx.http(1);
  try {
    const h = await claimLatencies(ctx, http, queues);
    return latencyMetrics(14, 'claim (1) latency, held jobs', h, `${held} held (paused and capped) over ${QUEUES} queues`);
  } finally {
    await http.close();
  }
}

export async function delayedClaimLatency(ctx: Context): Promise<Metric[]> {
  const q: QueueRef = { task_type: 'bench_delayed', model_profile: 'bench-s15' };
  await ctx.warmQueues([q]);
  const n = ctx.sizes.spreadPending;
  ctx.log(`  seeding ${n} delayed and ${n} ready jobs in one queue`);
  // half of 2n pending rows deferred an hour: the delayed ones are interleaved with (and as old as) the ready ones
  await seedJobs(ctx.serviceSql, {
    queues: [q],
    count: 2 * n,
    status: 'pending',
    spacingMs: 1,
    owner_service: 'bench',
    input: INPUT,
    deferred: 50,
  });
  await vacuumAnalyze(ctx.serviceSql);
  const http = ctx.http(1);
  try {
    const h = await claimLatencies(ctx, http, [q]);
    return latencyMetrics(15, 'claim (1) latency, delayed jobs', h, `about ${n} delayed + ${n} ready in one queue`);
  } finally {
    await http.close();
  }
}
