// Benchmark: a bulk retry of 100,000 failed jobs (POST /api/v1/jobs/bulk) while 8
// workers claim (limit 1) and complete over HTTP in another queue. Reports the bulk
// rate (jobs/s) and claim latency without the bulk action and during it (A-B, the
// same workers), with the ratio of the p99s (target: during < 2x without).
//
// The bulk action changes its jobs 1,000 per statement (src/jobs/bulk.ts), so each
// statement's locks are short and claims in other queues should barely notice it.
//
// Harness: `bulkScenario({ serviceUrl, sql, quick, log, headers })` returns metric
// records (scenario 10). Alone: `npm run bench -- --scenario 10 [--quick]`.
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';
import type pg from 'pg';
import { Pool } from 'undici';
import { seedJobs } from '../../test/support/seed.ts';
import { type Metric, metricsOf } from './scenario.ts';

export const SCENARIO = 10;
const TASK_TYPE = 'call_analysis';
const BULK_PROFILE = 'bench-bulk-failed';
const WORK_PROFILE = 'bench-bulk-work';
const WORKERS = 8;
const SIZES = {
  full: { failed: 100_000, pending: 20_000, phaseMs: 10_000 },
  quick: { failed: 3000, pending: 500, phaseMs: 500 },
};

export interface BulkBenchContext {
  serviceUrl: string;
  /** An admin token's header: the bulk filter names an owner service of the bench producer, workers claim. */
  headers?: Record<string, string>;
  sql: pg.Pool;
  quick: boolean;
  log(message: string): void;
}

let headers: Record<string, string> = { 'content-type': 'application/json' };

async function post(http: Pool, path: string, body: object, expected = 200): Promise<any> {
  const res = await http.request({ method: 'POST', path, body: JSON.stringify(body), headers });
  const text = await res.body.text();
  if (res.statusCode !== expected) throw new Error(`POST ${path}: ${res.statusCode} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

const job = (model_profile: string) => ({
  owner_service: 'bench',
  owner_ref: 'bulk-bench',
  task_type: TASK_TYPE,
  model_profile,
  input: { prompt: 'Summarise the call.' },
});

interface Phase {
  claims: RecordableHistogram;
  jobs: number;
  elapsedMs: number;
}

/** 8 workers claim one job at a time, complete it, and create one, so the backlog stays level. */
async function runWorkers(http: Pool, stop: () => boolean): Promise<Phase> {
  const claims = createHistogram();
  let jobs = 0;
  const started = performance.now();
  const worker = async (w: number) => {
    while (!stop()) {
      const t0 = performance.now();
      const res = await post(http, '/api/v1/jobs/claim', { worker_id: `bench-bulk-${w}`, model_profiles: [WORK_PROFILE], limit: 1 });
      claims.record(Math.max(1, Math.round((performance.now() - t0) * 1000)));
      const j = res.jobs[0];
      if (!j) throw new Error('the pending backlog ran out');
      await post(http, `/api/v1/jobs/${j.id}/complete`, { lease_token: j.lease_token, result: { ok: true } });
      jobs++;
      await post(http, '/api/v1/jobs', job(WORK_PROFILE), 201);
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

export async function bulkScenario(ctx: BulkBenchContext): Promise<Metric[]> {
  const size = ctx.quick ? SIZES.quick : SIZES.full;
  headers = { 'content-type': 'application/json', ...ctx.headers };
  const http = new Pool(ctx.serviceUrl, { connections: WORKERS + 1, pipelining: 1, keepAliveTimeout: 60_000 });
  try {
    for (const p of [BULK_PROFILE, WORK_PROFILE]) await post(http, '/api/v1/jobs', job(p), 201); // creates the queues
    ctx.log(`  seeding ${size.failed} failed jobs and ${size.pending} pending`);
    await seedJobs(ctx.sql, {
      queues: [{ task_type: TASK_TYPE, model_profile: BULK_PROFILE }],
      status: 'failed',
      count: size.failed,
      owner_service: 'bench',
    });
    await seedJobs(ctx.sql, {
      queues: [{ task_type: TASK_TYPE, model_profile: WORK_PROFILE }],
      status: 'pending',
      count: size.pending,
      owner_service: 'bench',
    });
    await ctx.sql.query('VACUUM ANALYZE jobs, job_attempts, pgboss.job');
    await runWorkers(http, forMs(size.phaseMs / 4)); // warm-up
    ctx.log(`  ${WORKERS} workers without a bulk action (${size.phaseMs / 1000} s)`);
    const before = await runWorkers(http, forMs(size.phaseMs));

    ctx.log(`  the same workers while a bulk retry of ${size.failed} jobs runs`);
    let bulkDone = false;
    const t0 = performance.now();
    const bulk = post(http, '/api/v1/jobs/bulk', {
      action: 'retry',
      filter: { status: ['failed'], model_profile: BULK_PROFILE },
      limit: 100_000,
    }).finally(() => {
      bulkDone = true;
    });
    const during = await runWorkers(http, () => bulkDone);
    const result = await bulk;
    const bulkMs = performance.now() - t0;
    if (result.changed !== size.failed) throw new Error(`the bulk retry changed ${result.changed} of ${size.failed} jobs`);
    const m = metricsOf(SCENARIO);
    const note = 'baseline column: the same workers just before the bulk action';
    return [
      m('bulk retry rate', 'jobs/s', (result.changed * 1000) / bulkMs, null, {
        note: `${result.changed} jobs in ${(bulkMs / 1000).toFixed(1)} s`,
      }),
      m('claim p50 during bulk', 'ms', pMs(during.claims, 50), pMs(before.claims, 50), { note }),
      m('claim p99 during bulk', 'ms', pMs(during.claims, 99), pMs(before.claims, 99), { note }),
      m('claim p99 during / before bulk', 'x', pMs(during.claims, 99) / pMs(before.claims, 99), null, { target: { max: 2 } }),
    ];
  } finally {
    await http.close();
  }
}
