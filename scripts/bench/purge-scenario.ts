// Benchmark: the retention purge deleting 1,000,000 expired jobs while 8 workers
// claim (limit 1) and complete over HTTP. Reports claim latency without the purge,
// during it, and after it (A-B-A, so drift such as autovacuum shows up), the ratio
// of the p99s (target: during <= 2x without), worker throughput, and purge rows/s.
//
// The purge is the service's own routine (Purger.run, the leader task's code) with
// no time budget, i.e. what `npm run purge` does: the worst case, since the leader
// spends at most PURGE_RUN_MAX_MS of each PURGE_INTERVAL. The expired jobs finished
// an hour ago, inside the service's default retention (7 days), so the service's own
// leader never purges them; the bench's Purger runs with a 30-minute retention (or
// longer when the caller's own finished jobs are older: `keepNewerThanMs`).
//
// Harness: `purgeScenario({ serviceUrl, sql, quick, log })` returns metric records in
// the harness's Metric shape (scenario 9). Alone: `npm run bench -- --scenario 9 [--quick]`.
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';
import type pg from 'pg';
import { Pool } from 'undici';
import { Purger } from '../../src/retention/purge.ts';
import { seedJobs } from '../../test/support/seed.ts';
import { checkpoint, type ServerCounters, serverCounters, serverCountersSince, vacuumAnalyze } from './tables.ts';
import { type Metric, metricsOf } from './scenario.ts';

export const SCENARIO = 9;
const TASK_TYPE = 'call_analysis';
const PROFILE = 'bench-purge';
const WORKERS = 8;
const LEASE_SECONDS = 300;
const SIZES = {
  full: { expired: 1_000_000, pending: 20_000, phaseMs: 20_000 },
  quick: { expired: 5000, pending: 1000, phaseMs: 1000 },
};
const PURGE_RETENTION_MS = 30 * 60_000;
/** The expired jobs finished this long before the retention's limit. */
const EXPIRED_MARGIN_MS = 30 * 60_000;

export interface PurgeBenchContext {
  /** Base URL of a running service. */
  serviceUrl: string;
  /** Sent with every request (npm run bench: a token that may create and claim); none when auth is off. */
  headers?: Record<string, string>;
  /** SQL on the service's database. */
  sql: pg.Pool;
  quick: boolean;
  log(message: string): void;
  /** Overrides the full or quick sizes (the scale scenario purges a tenth of its jobs). */
  size?: (typeof SIZES)['full'];
  /**
   * Finished jobs already in the database that the purge must leave (the scale scenario's,
   * seeded over up to half an hour): the retention grows to cover them, so the purge
   * deletes only the jobs seeded here.
   */
  keepNewerThanMs?: number;
}

interface Phase {
  claims: RecordableHistogram;
  jobs: number;
  elapsedMs: number;
}

// Set from the context at the start of a run (one run at a time).
let headers: Record<string, string> = { 'content-type': 'application/json' };

async function create(http: Pool): Promise<void> {
  const res = await http.request({ method: 'POST', path: '/api/v1/jobs', body: CREATE_BODY, headers });
  const text = await res.body.text();
  if (res.statusCode !== 201) throw new Error(`POST /api/v1/jobs: ${res.statusCode} ${text.slice(0, 300)}`);
}

async function call(http: Pool, path: string, body: object): Promise<any> {
  const res = await http.request({ method: 'POST', path, body: JSON.stringify(body), headers });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`POST ${path}: ${res.statusCode} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

const CREATE_BODY = JSON.stringify({
  owner_service: 'bench',
  owner_ref: 'purge-bench',
  task_type: TASK_TYPE,
  model_profile: PROFILE,
  input: { prompt: 'Summarise the call.' },
});

/**
 * 8 workers claim one job at a time and complete it, until `stop()`; claims are
 * timed. Each worker then creates a job (as a producer would), so the backlog
 * stays the size it was seeded at and every phase claims from the same depth.
 */
async function runWorkers(http: Pool, stop: () => boolean): Promise<Phase> {
  const claims = createHistogram();
  let jobs = 0;
  const started = performance.now();
  const worker = async (w: number) => {
    while (!stop()) {
      const t0 = performance.now();
      const res = await call(http, '/api/v1/jobs/claim', {
        worker_id: `bench-purge-${w}`,
        model_profiles: [PROFILE],
        limit: 1,
        lease_seconds: LEASE_SECONDS,
      });
      claims.record(Math.max(1, Math.round((performance.now() - t0) * 1000)));
      const job = res.jobs[0];
      if (!job) throw new Error('the pending backlog ran out');
      await call(http, `/api/v1/jobs/${job.id}/complete`, { lease_token: job.lease_token, result: { ok: true } });
      jobs++;
      await create(http);
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
  return { claims, jobs, elapsedMs: performance.now() - started };
}

const forMs = (ms: number) => {
  const end = performance.now() + ms;
  return () => performance.now() >= end;
};
const pMs = (h: RecordableHistogram, p: number) => h.percentile(p) / 1000;
const perSecond = (n: number, ms: number) => (n * 1000) / ms;

async function seed(ctx: PurgeBenchContext, size: (typeof SIZES)['full'], http: Pool, retentionMs: number): Promise<void> {
  await create(http); // creates the queue in pg-boss and job_queues
  const queues = [{ task_type: TASK_TYPE, model_profile: PROFILE }];
  ctx.log(`  seeding ${size.expired} completed jobs (expired ${EXPIRED_MARGIN_MS / 60_000} min ago) and ${size.pending} pending`);
  const t0 = performance.now();
  const ageSeconds = (retentionMs + EXPIRED_MARGIN_MS) / 1000;
  // with the events a job run through the API has, which the purge deletes with it
  await seedJobs(ctx.sql, { queues, status: 'completed', count: size.expired, ageSeconds, owner_service: 'bench', earlierEvents: true });
  await seedJobs(ctx.sql, { queues, status: 'pending', count: size.pending, owner_service: 'bench' });
  await vacuumAnalyze(ctx.sql);
  await checkpoint(ctx.sql, ctx.log);
  ctx.log(`  seeded in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

export async function purgeScenario(ctx: PurgeBenchContext): Promise<Metric[]> {
  const size = ctx.size ?? (ctx.quick ? SIZES.quick : SIZES.full);
  headers = { 'content-type': 'application/json', ...ctx.headers };
  const http = new Pool(ctx.serviceUrl, { connections: WORKERS, pipelining: 1, keepAliveTimeout: 60_000 });
  try {
    const retentionMs = Math.max(PURGE_RETENTION_MS, ctx.keepNewerThanMs ?? 0);
    await seed(ctx, size, http, retentionMs);
    await runWorkers(http, forMs(size.phaseMs / 4)); // warm-up: JIT, plans, connections
    ctx.log(`  ${WORKERS} workers without the purge (${size.phaseMs / 1000} s)`);
    const before = await runWorkers(http, forMs(size.phaseMs));

    ctx.log('  the same workers while the purge runs');
    const purger = new Purger({ db: ctx.sql, policy: { completed: retentionMs, failed: 0, cancelled: 0 } });
    const serverBefore = await serverCounters(ctx.sql);
    let purgeDone = false;
    const purging = purger.run({ maxRunMs: Number.POSITIVE_INFINITY }).finally(() => {
      purgeDone = true;
    });
    const during = await runWorkers(http, () => purgeDone);
    const purge = await purging;
    const server = await serverCountersSince(ctx.sql, serverBefore);
    if (purge.total < size.expired) throw new Error(`the purge deleted ${purge.total} of ${size.expired} jobs`);

    ctx.log(`  ${WORKERS} workers after the purge (${size.phaseMs / 1000} s)`);
    const after = await runWorkers(http, forMs(size.phaseMs));
    return [...report(before, during, after, purge.total, purge.durationMs, purge.batches), ...serverReport(server, purge.total)];
  } finally {
    await http.close();
  }
}

const metric = metricsOf(SCENARIO);

function report(before: Phase, during: Phase, after: Phase, rows: number, purgeMs: number, batches: number): Metric[] {
  const note = 'baseline column: the same workers just before the purge';
  return [
    metric('claim p50 during purge', 'ms', pMs(during.claims, 50), pMs(before.claims, 50), { note }),
    metric('claim p99 during purge', 'ms', pMs(during.claims, 99), pMs(before.claims, 99), { note }),
    metric('claim p99 during / before purge', 'x', pMs(during.claims, 99) / pMs(before.claims, 99), null, { target: { max: 2 } }),
    metric('claim p99 after purge', 'ms', pMs(after.claims, 99), pMs(before.claims, 99), {
      note: 'autovacuum of the purged tables may run here',
    }),
    metric('claim+complete during purge', 'jobs/s', perSecond(during.jobs, during.elapsedMs), perSecond(before.jobs, before.elapsedMs)),
    metric('purge rate', 'rows/s', perSecond(rows, purgeMs), null, {
      note: `${rows} jobs in ${batches} batches, ${(purgeMs / 1000).toFixed(1)} s`,
    }),
  ];
}

function serverReport(d: ServerCounters, rows: number): Metric[] {
  const m = (name: string, unit: string, value: number, note: string | undefined = undefined) =>
    metric(name, unit, value, null, note ? { note } : {});
  return [
    m(
      "WAL per purged job (with the workers' own)",
      'KiB',
      d.wal_bytes / 1024 / rows,
      `${(d.wal_bytes / 2 ** 20).toFixed(1)} MiB, ${d.wal_fpi} full-page images`,
    ),
    m('checkpoints started during the purge', 'count', d.checkpoints, `${d.checkpoints_done} finished`),
    m('pages written out by client backends during the purge', 'count', d.backend_writes),
  ];
}
