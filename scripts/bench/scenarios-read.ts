// Scenarios 5-8: claim latency over a deep backlog, stats over a big table,
// long-poll wake-up, and the service's memory at the end of the run.
import { performance } from 'node:perf_hooks';
import { type Driver, spreadQueues } from './driver.ts';
import { pMs, sample } from './load.ts';
import { countJobs, seedBenchJobs, vacuumAnalyze } from './tables.ts';
import { abbaSamples, type Context, type Metric } from './scenario.ts';

const QUEUE_COUNT = 20;
const LATENCY_TIME_MS = { full: 10_000, quick: 1000 };
const WAKE_TIME_MS = { full: 30_000, quick: 3000 };
const MIB = 1024 * 1024;

// Exact live counts per queue straight from pg-boss's table (pg-boss's own
// getQueueStats serves a cache refreshed at most once a minute).
const LIVE_COUNTS = `
SELECT name, count(*) FILTER (WHERE state < 'active' AND start_after <= now()) AS ready,
       count(*) FILTER (WHERE state < 'active' AND start_after > now()) AS deferred,
       count(*) FILTER (WHERE state = 'active') AS active,
       count(*) FILTER (WHERE state = 'completed') AS completed,
       count(*) FILTER (WHERE state = 'failed') AS failed,
       count(*) FILTER (WHERE state = 'cancelled') AS cancelled
FROM pgboss.job GROUP BY name`;

function timeLimit(ctx: Context, limits: { full: number; quick: number }): number {
  return (ctx.quick ? limits.quick : limits.full) / 2;
}

export async function claimLatency(ctx: Context): Promise<Metric[]> {
  const queues = spreadQueues('bench-s5', QUEUE_COUNT);
  await ctx.warmQueues(queues);
  const n = ctx.sizes.spreadPending;
  ctx.log(`  seeding ${n} pending jobs over ${QUEUE_COUNT} queues in each store`);
  await Promise.all([seedBenchJobs(ctx.serviceSql, queues, n, 'pending'), seedBenchJobs(ctx.baselineSql, queues, n, 'pending')]);
  await Promise.all([vacuumAnalyze(ctx.serviceSql), vacuumAnalyze(ctx.baselineSql)]);
  const http = ctx.http(1);
  try {
    const opts = { samples: ctx.sizes.latencySamples / 2, durationMs: timeLimit(ctx, LATENCY_TIME_MS) };
    const h = await abbaSamples<Driver>({ service: http, baseline: ctx.baseline }, (d) =>
      sample(opts, async (i) => {
        const t0 = performance.now();
        const jobs = await d.claim(queues, 1, i);
        const ms = performance.now() - t0;
        if (jobs.length !== 1) throw new Error(`${d.label} claimed ${jobs.length} jobs from a full backlog`);
        await d.complete(jobs); // not timed: keeps the running set small, as real workers do
        return ms;
      }),
    );
    const note = `${n} pending over ${QUEUE_COUNT} queues; service: one claim across all; baseline: fetch from one queue`;
    return [
      { scenario: 5, name: 'claim (1) latency p50', unit: 'ms', value: pMs(h.service, 50), baseline: pMs(h.baseline, 50), note },
      {
        scenario: 5,
        name: 'claim (1) latency p99',
        unit: 'ms',
        value: pMs(h.service, 99),
        baseline: pMs(h.baseline, 99),
        target: { max: 10 },
      },
    ];
  } finally {
    await http.close();
  }
}

export async function statsLatency(ctx: Context): Promise<Metric[]> {
  const queues = spreadQueues('bench-s6', QUEUE_COUNT);
  await ctx.warmQueues(queues);
  const missing = Math.max(0, ctx.sizes.statsJobs - (await countJobs(ctx.serviceSql)));
  ctx.log(`  seeding ${missing} jobs (1% pending, 4% failed, 2% cancelled, the rest completed)`);
  await seedBenchJobs(ctx.serviceSql, queues, missing, { pending: 1, failed: 4, cancelled: 2 }, 10);
  await vacuumAnalyze(ctx.serviceSql);
  const total = await countJobs(ctx.serviceSql);
  const http = ctx.http(1);
  try {
    const opts = { samples: ctx.sizes.latencySamples / 2, durationMs: timeLimit(ctx, LATENCY_TIME_MS) };
    const timed = (fn: () => Promise<unknown>) =>
      sample(opts, async () => {
        const t0 = performance.now();
        await fn();
        return performance.now() - t0;
      });
    // The baseline reads the same database: its pgboss.job mirrors every job.
    const h = await abbaSamples({ service: () => http.stats(), baseline: () => ctx.serviceSql.query(LIVE_COUNTS) }, timed);
    const note = `${total} jobs; baseline: exact count(*) over pgboss.job per queue, in-process`;
    return [
      { scenario: 6, name: 'GET /stats p50', unit: 'ms', value: pMs(h.service, 50), baseline: pMs(h.baseline, 50), note },
      {
        scenario: 6,
        name: 'GET /stats p95',
        unit: 'ms',
        value: pMs(h.service, 95),
        baseline: pMs(h.baseline, 95),
        target: { max: 50 },
      },
    ];
  } finally {
    await http.close();
  }
}

export async function wakeLatency(ctx: Context): Promise<Metric[]> {
  const q = { task_type: 'bench_wake', model_profile: 'bench-s7' };
  await ctx.warmQueues([q]);
  await ctx.baseline.startWakeWorker(q);
  const http = ctx.http(2);
  try {
    const opts = { samples: ctx.sizes.wakeSamples / 2, durationMs: timeLimit(ctx, WAKE_TIME_MS) };
    const h = await abbaSamples<Driver>({ service: http, baseline: ctx.baseline }, (d) => sample(opts, () => d.wakeup(q)));
    const note = 'create → parked claimer has the job; baseline: send → pg-boss work() handler (LISTEN/NOTIFY)';
    return [
      { scenario: 7, name: 'long-poll wake-up p50', unit: 'ms', value: pMs(h.service, 50), baseline: pMs(h.baseline, 50), note },
      {
        scenario: 7,
        name: 'long-poll wake-up p99',
        unit: 'ms',
        value: pMs(h.service, 99),
        baseline: pMs(h.baseline, 99),
        target: { max: 50 },
      },
    ];
  } finally {
    await http.close();
  }
}

/** The service's own view of its memory (prom-client's default metrics), to explain the RSS. */
async function heapNote(url: string): Promise<string> {
  const text = await fetch(`${url}/metrics`).then((r) => r.text());
  const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  const mib = (n: number) => `${(n / MIB).toFixed(0)} MiB`;
  return `V8 heap ${mib(value('nodejs_heap_size_used_bytes'))} used of ${mib(value('nodejs_heap_size_total_bytes'))}, external ${mib(value('nodejs_external_memory_bytes'))}`;
}

export async function serviceMemory(ctx: Context): Promise<Metric[]> {
  const rss = ctx.service.rssBytes() / MIB;
  const heap = await heapNote(ctx.service.url).catch((err) => `heap unknown (${(err as Error).message})`);
  const b = ctx.service.rssBreakdown();
  const note = `${heap}; RSS: anonymous ${b.anonymous.toFixed(0)} MiB, malloc [heap] ${b.mallocHeap.toFixed(0)} MiB, files (node binary, libraries) ${b.files.toFixed(0)} MiB`;
  return [{ scenario: 8, name: 'service RSS at the end', unit: 'MiB', value: rss, baseline: null, target: { max: 250 }, note }];
}
