// Scenarios 1-4: throughput of creating, claiming and completing jobs, the
// service over HTTP against the same dual-store work done in-process.
import type { Driver, QueueRef } from './driver.ts';
import { type LoopResult, perSecond, pMs, runLoops } from './load.ts';
import { seedBenchJobs, vacuumAnalyze } from './tables.ts';
import {
  abba,
  BATCH_CONCURRENCY,
  cpuPerUnit,
  measured,
  BATCH_SIZE,
  CONCURRENCY,
  type Context,
  type Metric,
  type Side,
} from './scenario.ts';

/** The largest time a drain (scenario 3) may take per side before it is cut short. */
const DRAIN_LIMIT_MS = { full: 30_000, quick: 5000 };

async function warmThenAbba(
  ctx: Context,
  sides: Side<Driver>,
  concurrency: number,
  op: (d: Driver, worker: number) => Promise<number | null>,
): Promise<Side<LoopResult>> {
  if (ctx.sizes.warmupMs) {
    for (const d of [sides.service, sides.baseline]) {
      await runLoops({ concurrency, durationMs: ctx.sizes.warmupMs }, (w) => op(d, w));
    }
  }
  const half = ctx.sizes.measureMs / 2;
  return abba(ctx, sides, (d) => runLoops({ concurrency, durationMs: half }, (w) => op(d, w)));
}

function throughput(scenario: number, name: string, r: Side<LoopResult>, extra: Partial<Metric> = {}): Metric {
  return {
    scenario,
    name,
    unit: 'jobs/s',
    value: perSecond(r.service),
    baseline: perSecond(r.baseline),
    cpuPerJob: cpuPerUnit(r),
    ...extra,
  };
}

function latency(scenario: number, name: string, r: Side<LoopResult>, p: number, extra: Partial<Metric> = {}): Metric {
  return {
    scenario,
    name: `${name} p${p}`,
    unit: 'ms',
    value: pMs(r.service.latency, p),
    baseline: pMs(r.baseline.latency, p),
    ...extra,
  };
}

export async function singleCreate(ctx: Context): Promise<Metric[]> {
  const q: QueueRef = { task_type: 'bench_create', model_profile: 'bench-s1' };
  await ctx.warmQueues([q]);
  const http = ctx.http(CONCURRENCY);
  try {
    const r = await warmThenAbba(ctx, { service: http, baseline: ctx.baseline }, CONCURRENCY, async (d) => {
      await d.create(q);
      return 1;
    });
    return [
      throughput(1, 'single create, 8 clients', r, { target: { minRatio: 0.75 } }),
      latency(1, 'single create', r, 50),
      latency(1, 'single create', r, 99),
    ];
  } finally {
    await http.close();
  }
}

export async function batchCreate(ctx: Context): Promise<Metric[]> {
  const q: QueueRef = { task_type: 'bench_batch', model_profile: 'bench-s2' };
  await ctx.warmQueues([q]);
  const http = ctx.http(BATCH_CONCURRENCY);
  try {
    const r = await warmThenAbba(ctx, { service: http, baseline: ctx.baseline }, BATCH_CONCURRENCY, async (d) => {
      await d.createBatch(q, BATCH_SIZE);
      return BATCH_SIZE;
    });
    const note = `${BATCH_CONCURRENCY} clients`;
    return [
      throughput(2, 'batch create of 1,000', r, { target: { min: 12_000, minRatio: 0.6 }, note }),
      latency(2, 'batch create of 1,000 (per batch)', r, 99),
    ];
  } finally {
    await http.close();
  }
}

/** Claims `limit` and completes them until the queue is empty (or the time limit). */
async function drain(ctx: Context, d: Driver, q: QueueRef, limit: number): Promise<LoopResult> {
  const durationMs = ctx.quick ? DRAIN_LIMIT_MS.quick : DRAIN_LIMIT_MS.full;
  return measured(ctx, () =>
    runLoops({ concurrency: CONCURRENCY, durationMs }, async (w) => {
      const jobs = await d.claim([q], limit, w);
      if (!jobs.length) return null;
      await d.complete(jobs);
      return jobs.length;
    }),
  );
}

export async function claimAndComplete(ctx: Context): Promise<Metric[]> {
  const q: QueueRef = { task_type: 'bench_claim', model_profile: 'bench-s3' };
  await ctx.warmQueues([q]);
  const n = ctx.sizes.claimPending;
  await Promise.all([seedBenchJobs(ctx.serviceSql, [q], n, 'pending'), seedBenchJobs(ctx.baselineSql, [q], n, 'pending')]);
  await Promise.all([vacuumAnalyze(ctx.serviceSql), vacuumAnalyze(ctx.baselineSql)]);
  const http = ctx.http(CONCURRENCY);
  try {
    // A drain changes the data, so each side runs once, on its own copy of the same jobs.
    const r = { service: await drain(ctx, http, q, 50), baseline: await drain(ctx, ctx.baseline, q, 50) };
    for (const side of ['service', 'baseline'] as const) {
      if (r[side].units !== n) ctx.log(`  ${side} completed ${r[side].units} of ${n} jobs within the time limit`);
    }
    const note = 'service: 1 claim + 1 batch complete of 50 over HTTP; baseline: 1 fetch + 1 complete of 50 ids';
    return [throughput(3, `claim (50) + complete, ${n} pending`, r, { target: { min: 8000 }, note })];
  } finally {
    await http.close();
  }
}

export async function lifecycle(ctx: Context): Promise<Metric[]> {
  const q: QueueRef = { task_type: 'bench_life', model_profile: 'bench-s4' };
  await ctx.warmQueues([q]);
  const http = ctx.http(CONCURRENCY);
  try {
    const r = await warmThenAbba(ctx, { service: http, baseline: ctx.baseline }, CONCURRENCY, async (d, w) => {
      await d.create(q);
      const jobs = await d.claim([q], 1, w);
      await d.complete(jobs);
      return jobs.length;
    });
    return [throughput(4, 'full lifecycle, 8 clients', r, { target: { minRatio: 0.75 } })];
  } finally {
    await http.close();
  }
}
