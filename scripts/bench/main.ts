// `npm run bench [-- --quick] [--scenario N] [--profile] [--node-option=<flag>]`
//
// Measures the service over real HTTP against the same work done in-process with
// pg + pg-boss, in one run on one PostgreSQL server (scripts/bench/README.md).
// --quick runs every scenario at toy sizes in a few seconds (CI: it keeps the
// harness working and asserts nothing about speed). --profile starts the service
// with --cpu-prof, writing a .cpuprofile to bench/results/profiles/ at exit.
// --node-option=<flag> (repeatable) passes a Node/V8 flag to the service process.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { SERVICE_APPLICATION_NAME } from '../../src/db/pool.ts';
import { findViolations } from '../check-consistency.ts';
import { BaselineDriver } from './baseline-driver.ts';
import { cpuSnapshot } from './cpu.ts';
import type { QueueRef } from './driver.ts';
import { BENCH_TOKENS, REPO_ROOT, type ServiceProcess, startBenchService, startDatabases } from './env.ts';
import { HttpDriver } from './http-driver.ts';
import { bulkScenario } from './bulk-scenario.ts';
import { purgeScenario } from './purge-scenario.ts';
import { scaleScenario } from './scale-scenario.ts';
import { eventStreams } from './scenario-events.ts';
import { machineInfo, printTable, type RunInfo, writeResults } from './report.ts';
import { type Context, FULL, type Metric, QUICK } from './scenario.ts';
import { claimLatency, serviceMemory, statsLatency, wakeLatency } from './scenarios-read.ts';
import { delayedClaimLatency, fairClaimLatency, fairThroughput, heldClaimLatency } from './scenarios-fair.ts';
import { batchCreate, claimAndComplete, lifecycle, singleCreate } from './scenarios-write.ts';
import { settle, vacuumAnalyze } from './tables.ts';

const SCENARIOS: Record<number, { title: string; run: (ctx: Context) => Promise<Metric[]> }> = {
  1: { title: 'single create, 8 concurrent clients', run: singleCreate },
  2: { title: 'batch create of 1,000 jobs', run: batchCreate },
  3: { title: 'claim (limit 50) + complete, 8 workers', run: claimAndComplete },
  4: { title: 'full lifecycle create → claim → complete, 8 concurrent', run: lifecycle },
  5: { title: 'claim latency, 100,000 pending over 20 queues', run: claimLatency },
  6: { title: 'GET /api/v1/stats with 1,000,000 jobs', run: statsLatency },
  7: { title: 'long-poll wake-up latency', run: wakeLatency },
  8: { title: 'service RSS at the end of the run', run: serviceMemory },
  // The retention purge's cost to workers (scripts/bench/purge-scenario.ts). Not part
  // of the default run: it seeds its own 1,000,000 jobs and purges every completed
  // job older than 30 minutes, so run it alone (--scenario 9) or in --quick.
  9: {
    title: 'purge 1,000,000 expired jobs while 8 workers claim and complete',
    run: (ctx) =>
      purgeScenario({
        serviceUrl: ctx.service.url,
        sql: ctx.serviceSql,
        quick: ctx.quick,
        log: ctx.log,
        headers: { authorization: `Bearer ${BENCH_TOKENS.admin}` },
      }),
  },
  // Bulk recovery's cost to workers (scripts/bench/bulk-scenario.ts): seeds 100,000
  // failed jobs of its own; not in the default run.
  10: {
    title: 'bulk retry of 100,000 failed jobs while 8 workers claim and complete',
    run: (ctx) =>
      bulkScenario({
        serviceUrl: ctx.service.url,
        sql: ctx.serviceSql,
        quick: ctx.quick,
        log: ctx.log,
        headers: { authorization: `Bearer ${BENCH_TOKENS.admin}` },
      }),
  },
  // The scale scenario (scripts/bench/scale-scenario.ts): opt-in, alone, sized by
  // --scale-jobs (default 1,000,000) and --heartbeats (default 1,000,000).
  11: {
    title: 'the service at scale: claim, wake-up, reaper, /stats, GET /jobs filters, heartbeats, purge, disk',
    run: (ctx) =>
      scaleScenario(ctx, {
        jobs: ctx.quick ? 5000 : Number(args['scale-jobs'] ?? 1_000_000),
        heartbeats: ctx.quick ? 1000 : Number(args.heartbeats ?? 1_000_000),
      }),
  },
  12: { title: 'fair claim latency, 100,000 ready over 20 owners and 20 queues', run: fairClaimLatency },
  13: { title: 'claim (limit 50) + complete with policies vs without, 20 owners', run: fairThroughput },
  14: { title: 'claim latency with 100,000 held jobs (paused and capped)', run: heldClaimLatency },
  15: { title: 'claim latency with 100,000 delayed + 100,000 ready jobs in one queue', run: delayedClaimLatency },
  16: { title: 'event streams: 1,000 open on one replica, status change → event', run: eventStreams },
};
// 16 runs before 8, so the RSS at the end includes what the streams left behind.
const DEFAULT_SCENARIOS = [1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15, 16, 8];
/** Connections in the baseline's pool: the service's DB_POOL_SIZE default. */
const BASELINE_POOL_SIZE = 20;
/** Jobs pushed through each queue before measuring: statistics taken on an empty queue give fetch a bad plan. */
const WARM_JOBS = { full: 20, quick: 2 };

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    scenario: { type: 'string', multiple: true },
    profile: { type: 'boolean', default: false },
    'node-option': { type: 'string', multiple: true },
    'scale-jobs': { type: 'string' },
    heartbeats: { type: 'string' },
  },
});
/** Scenarios too long for --quick's every-scenario run (CI). */
const NOT_IN_QUICK = [11];
const selected =
  args.scenario?.map(Number) ??
  (args.quick
    ? Object.keys(SCENARIOS)
        .map(Number)
        .filter((n) => !NOT_IN_QUICK.includes(n))
    : DEFAULT_SCENARIOS);
for (const n of selected) if (!SCENARIOS[n]) throw new Error(`--scenario must be one of ${Object.keys(SCENARIOS).join(', ')}, got ${n}`);

const cleanups: (() => Promise<unknown>)[] = [];
async function cleanup(): Promise<void> {
  while (cleanups.length) await cleanups.pop()!().catch((err) => console.error('cleanup:', err.message));
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void cleanup().finally(() => process.exit(130)));
}
process.once('uncaughtException', (err) => {
  console.error(err);
  void cleanup().finally(() => process.exit(1));
});

async function warmQueues(service: HttpDriver, baseline: BaselineDriver, queues: QueueRef[], pools: pg.Pool[]) {
  const n = args.quick ? WARM_JOBS.quick : WARM_JOBS.full;
  for (const d of [service, baseline]) {
    for (const q of queues) await d.createBatch(q, n);
    for (let turn = 0; ; turn++) {
      const jobs = await d.claim(queues, n, turn);
      if (jobs.length) await d.complete(jobs);
      else if (turn >= queues.length) break;
    }
  }
  await Promise.all(pools.map(vacuumAnalyze));
}

async function main(): Promise<void> {
  const started = Date.now();
  const loadStart = os.loadavg();
  const sizes = args.quick ? QUICK : FULL;
  const log = (m: string) => console.log(m);

  const dbs = await startDatabases(process.env.BENCH_DATABASE_URL);
  cleanups.push(() => dbs.stop());
  const profileDir = path.join(REPO_ROOT, 'bench', 'results', 'profiles');
  const nodeArgs = [...(args['node-option'] ?? []), ...(args.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])];
  const service: ServiceProcess = await startBenchService(dbs.serviceUrl, nodeArgs);
  cleanups.push(() => service.stop());
  // The seeders write both stores in one statement, as the service does: under the service's
  // application_name, so pg-boss's watch triggers (migration 004) do not note every seeded row
  // for the leader's adoption pass to work through while the bench measures.
  const serviceSql = new pg.Pool({ connectionString: dbs.serviceUrl, max: 4, application_name: SERVICE_APPLICATION_NAME });
  const baselineSql = new pg.Pool({ connectionString: dbs.baselineUrl, max: 4 });
  cleanups.push(
    () => serviceSql.end(),
    () => baselineSql.end(),
  );
  const baseline = await BaselineDriver.start(dbs.baselineUrl, BASELINE_POOL_SIZE);
  cleanups.push(() => baseline.close());

  const ctx: Context = {
    sizes,
    quick: args.quick!,
    service,
    serviceSql,
    baselineSql,
    baseline,
    http: (connections) => new HttpDriver(service.url, connections),
    warmQueues: async (queues) => {
      const http = new HttpDriver(service.url, 2);
      await warmQueues(http, baseline, queues, [serviceSql, baselineSql]).finally(() => http.close());
    },
    log,
    cpu: () => cpuSnapshot(service.pid, dbs.postmasterPid),
  };

  const metrics: Metric[] = [];
  for (const n of selected) {
    log(`[${n}] ${SCENARIOS[n].title}`);
    const waited = await settle(serviceSql);
    if (waited > 1000) log(`    waited ${(waited / 1000).toFixed(1)} s for autovacuum to finish`);
    const t0 = Date.now();
    metrics.push(...(await SCENARIOS[n].run(ctx)));
    log(`    done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }

  // A quick run (CI) also proves the seeded and benchmarked data is what the service
  // itself would have written: both stores and the attempt log agree.
  if (args.quick) {
    const violations = await findViolations(serviceSql);
    if (violations.length) throw new Error(`the service's database is inconsistent: ${JSON.stringify(violations.slice(0, 5))}`);
    log('consistency: jobs, pgboss.job and job_attempts agree');
  }

  const info: RunInfo = {
    date: new Date().toISOString(),
    quick: args.quick!,
    scenarios: selected,
    ...machineInfo(),
    postgres: dbs.postgresVersion,
    serviceNodeOptions: args['node-option'] ?? [],
    loadAverage: { start: loadStart, end: os.loadavg() },
    durationSeconds: Math.round((Date.now() - started) / 1000),
  };
  printTable(info, metrics);
  console.log(`\nresults: ${path.relative(REPO_ROOT, writeResults(info, metrics))} (${info.durationSeconds} s)`);
}

try {
  await main();
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await cleanup();
}
// Exit explicitly: a timer or socket some library left open must not keep a
// finished bench (or CI) waiting.
process.exit();
