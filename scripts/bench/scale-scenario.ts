// Scenario 11 (opt-in): the service holding `--scale-jobs` jobs (default 1,000,000;
// the figure is 10,000,000) over 100 queues and 20 owner services: 10%
// pending (half of them delayed an hour), 0.5% running, the rest finished (90%
// completed, 6% failed over 5 error categories, 4% cancelled), seeded in both stores
// with the service's own row shapes (test/support/seed.ts). Measured over HTTP:
// claim, long-poll wake-up, /stats, GET /jobs per documented filter; in SQL: the
// reaper's tick with every running lease alive, the table and index cost of
// heartbeats (HOT updates), the disk used per million jobs; then the purge scenario
// (scenario 9's code) at a tenth of the scale on top. Not in the default run nor in
// --quick: seeding 10 M jobs takes many minutes.
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { PgBoss } from 'pg-boss';
import { Pool } from 'undici';
import { reapExpiredLeases } from '../../src/jobs/lease-reaper.ts';
import { heartbeat } from '../../src/jobs/settle-store.ts';
import { writeQueueCounts } from '../../src/stats/pgboss-queue-counts.ts';
import { WEBHOOK_QUEUE } from '../../src/webhooks/store.ts';
import { seedJobs } from '../../test/support/seed.ts';
import type { QueueRef } from './driver.ts';
import { INPUT } from './driver.ts';
import { BENCH_TOKENS } from './env.ts';
import { pMs, runLoops, sample } from './load.ts';
import { purgeScenario } from './purge-scenario.ts';
import type { Context, Metric } from './scenario.ts';
import { blocksRead, checkpoint, readsPer, serverCounters, serverCountersSince, vacuumAnalyze } from './tables.ts';

export const SCENARIO = 11;
const TASK_TYPES = ['call_analysis', 'summary', 'transcribe', 'classify', 'translate'];
const PROFILES = 20; // x 5 task types = 100 queues
const OWNERS = Array.from({ length: 20 }, (_, i) => `owner-${String(i).padStart(2, '0')}`);
const ERROR_CATEGORIES = ['provider_error', 'timeout', 'invalid_input', 'rate_limited', 'internal'];
const MIX = { pending: 10, running: 0.5, failed: 5.4, cancelled: 3.6 }; // of 100; completed the rest
const SAMPLES = { full: 200, quick: 10 };
const SAMPLE_MS = 15_000;
/** Seeded rows are this far apart in time, older rows first. */
const SPACING_MS = 0.1;
/** Claims before the timed ones; --quick's 250 ready jobs over 20 profiles hold no more than its own samples. */
const WARM_UP_CLAIMS = { full: 200, quick: 10 };
const WARM_UP_WAKES = 20;
/**
 * A backend flushes its statistics at the end of a transaction at most once a second, and an
 * idle one within 10 s (PostgreSQL's PGSTAT_IDLE_INTERVAL): no event to wait for.
 */
const STATS_FLUSH_MS = 10_500;
const HEARTBEAT_LOOPS = 8;
const MIB = 1024 * 1024;
const ADMIN = { authorization: `Bearer ${BENCH_TOKENS.admin}`, 'content-type': 'application/json' };

export interface ScaleOptions {
  jobs: number;
  heartbeats: number;
}

const queues: QueueRef[] = Array.from({ length: PROFILES }, (_, p) =>
  TASK_TYPES.map((task_type) => ({ task_type, model_profile: `scale-p${String(p).padStart(2, '0')}` })),
).flat();

/** seedJobs takes whole percentages: seed the half-percent of running jobs as a whole share of a twice-as-small slice. */
async function seed(ctx: Context, n: number): Promise<void> {
  const t0 = performance.now();
  const common = { queues, owner_services: OWNERS, error_categories: ERROR_CATEGORIES, input: INPUT, spacingMs: SPACING_MS };
  const running = Math.round((n * MIX.running) / 100);
  const pending = Math.round((n * MIX.pending) / 100);
  const rest = n - running - pending;
  ctx.log(`  seeding ${n} jobs: ${pending} pending (half delayed), ${running} running, ${rest} finished`);
  await seedJobs(ctx.serviceSql, { ...common, count: running, status: 'running' });
  await seedJobs(ctx.serviceSql, { ...common, count: pending, status: 'pending', deferred: 50 });
  const f = 100 - MIX.pending - MIX.running;
  await seedJobs(ctx.serviceSql, {
    ...common,
    count: rest,
    status: { failed: Math.round((MIX.failed / f) * 100), cancelled: Math.round((MIX.cancelled / f) * 100) },
    ageSeconds: 60,
  });
  ctx.log(`  seeded in ${((performance.now() - t0) / 1000).toFixed(0)} s; VACUUM ANALYZE, CHECKPOINT`);
  await vacuumAnalyze(ctx.serviceSql);
  await checkpoint(ctx.serviceSql, ctx.log);
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function getJson(http: Pool, path: string): Promise<any> {
  const res = await http.request({ method: 'GET', path, headers: ADMIN });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET ${path}: ${res.statusCode} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

interface Disk {
  bytes: number;
  /** job_events alone: the status events, each a snapshot of the job without its input. */
  events: number;
}

/** Everything the two stores keep per job: its rows in every table, with indexes and TOAST. */
async function diskBytes(sql: pg.Pool): Promise<Disk> {
  const { rows } = await sql.query(`
    SELECT sum(pg_total_relation_size(c.oid))::bigint AS bytes,
           sum(pg_total_relation_size(c.oid)) FILTER (WHERE c.relname = 'job_events')::bigint AS events
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND ((n.nspname = 'public'
           AND c.relname IN ('jobs', 'job_attempts', 'job_events', 'job_progress', 'webhook_deliveries'))
       OR (n.nspname = 'pgboss' AND c.relname LIKE 'job%'))`);
  return { bytes: Number(rows[0].bytes), events: Number(rows[0].events) };
}

/** `count` heartbeats (the service's own statement) over the running jobs; n_tup_hot_upd and index sizes of `jobs` around them. */
async function heartbeats(ctx: Context, count: number): Promise<Metric[]> {
  const { rows: leases } = await ctx.serviceSql.query(
    `SELECT id, lease_token FROM jobs WHERE status = 'running' AND worker_id = 'seed-worker'`,
  );
  if (!leases.length || !count) return [];
  const stat = async () =>
    (
      await ctx.serviceSql.query(`SELECT n_tup_upd::bigint AS upd, n_tup_hot_upd::bigint AS hot,
        pg_indexes_size('jobs')::bigint AS idx, pg_relation_size('jobs')::bigint AS heap
        FROM pg_stat_user_tables WHERE relid = 'jobs'::regclass`)
    ).rows[0];
  const before = await stat();
  let next = 0;
  const r = await runLoops({ concurrency: HEARTBEAT_LOOPS, durationMs: Number.POSITIVE_INFINITY }, async () => {
    const i = next++;
    if (i >= count) return null;
    const l = leases[i % leases.length];
    const out = await heartbeat(ctx.serviceSql, l.id, l.lease_token, 86_400);
    if (out.outcome !== 'extended') throw new Error(`heartbeat: ${out.outcome}`);
    return 1;
  });
  await ctx.serviceSql.query(`SELECT pg_stat_force_next_flush()`);
  const after = await stat();
  const upd = Number(after.upd) - Number(before.upd);
  const hot = Number(after.hot) - Number(before.hot);
  const note = `${r.units} heartbeats in ${(r.elapsedMs / 1000).toFixed(0)} s over ${leases.length} running jobs; jobs heap ${(Number(before.heap) / MIB).toFixed(0)} → ${(Number(after.heap) / MIB).toFixed(0)} MiB`;
  return [
    {
      scenario: SCENARIO,
      name: 'heartbeats that were HOT updates of jobs',
      unit: '%',
      value: (100 * hot) / Math.max(1, upd),
      baseline: null,
      note,
    },
    {
      scenario: SCENARIO,
      name: 'jobs index size growth over the heartbeats',
      unit: 'MiB',
      value: (Number(after.idx) - Number(before.idx)) / MIB,
      baseline: null,
      note: `all jobs indexes: ${(Number(before.idx) / MIB).toFixed(0)} → ${(Number(after.idx) / MIB).toFixed(0)} MiB`,
    },
  ];
}

/**
 * One pass of pg-boss's maintenance over every queue, after forcing every queue due: its
 * stats refresh counts the rows of each queue. The leader no longer runs it for our queues
 * (src/stats/pgboss-queue-counts.ts); this is what it would cost, next to what the leader does.
 */
async function supervisePass(ctx: Context): Promise<number> {
  return withBoss(ctx, async (boss) => {
    await ctx.serviceSql.query(`UPDATE pgboss.queue SET monitor_claim_on = NULL, monitor_on = NULL`);
    await ctx.serviceSql.query(`UPDATE pgboss.version SET monitor_backoff_on = NULL`);
    return timed(() => boss.supervise());
  });
}

/** What the leader runs instead: our counters into pgboss.queue, and pg-boss's pass over the webhooks queue only. */
async function leaderQueuePass(ctx: Context): Promise<number> {
  return withBoss(ctx, async (boss) => {
    await ctx.serviceSql.query(`UPDATE pgboss.queue SET monitor_claim_on = NULL, monitor_on = NULL WHERE name = $1`, [WEBHOOK_QUEUE]);
    return timed(async () => {
      await writeQueueCounts(ctx.serviceSql);
      await boss.supervise(WEBHOOK_QUEUE);
    });
  });
}

/** A passive pg-boss instance on the service's database for the length of `fn`. */
async function withBoss<T>(ctx: Context, fn: (boss: PgBoss) => Promise<T>): Promise<T> {
  const connectionString = (ctx.serviceSql as unknown as { options: { connectionString: string } }).options.connectionString;
  const boss = new PgBoss({ connectionString, migrate: false, supervise: false, schedule: false });
  boss.on('error', () => {});
  await boss.start();
  try {
    return await fn(boss);
  } finally {
    await boss.stop({ graceful: false });
  }
}

export async function scaleScenario(ctx: Context, o: ScaleOptions): Promise<Metric[]> {
  const m = (name: string, unit: string, value: number, target?: Metric['target'], note?: string): Metric => ({
    scenario: SCENARIO,
    name,
    unit,
    value,
    baseline: null,
    ...(target ? { target } : {}),
    ...(note ? { note } : {}),
  });
  await ctx.warmQueues(queues);
  const seedStart = performance.now();
  const before = await diskBytes(ctx.serviceSql);
  await seed(ctx, o.jobs);
  const after = await diskBytes(ctx.serviceSql);
  const perMillion = (bytes: number) => bytes / (o.jobs / 1e6) / MIB;
  const all = perMillion(after.bytes - before.bytes);
  const events = perMillion(after.events - before.events);
  const metrics: Metric[] = [
    m(
      'disk per million jobs (every table of both stores, with indexes)',
      'MiB',
      all,
      undefined,
      `of which job_events ${events.toFixed(0)} MiB for the seed's one status event per job; a job run through the API has three (pending, running, finished): about ${(all + 2 * events).toFixed(0)} MiB with them`,
    ),
  ];

  const http = new Pool(ctx.service.url, { connections: 2, pipelining: 1, keepAliveTimeout: 60_000 });
  const driver = ctx.http(2);
  const samples = ctx.quick ? SAMPLES.quick : SAMPLES.full;
  const opts = { samples, durationMs: SAMPLE_MS };
  try {
    ctx.log('  claim (1) + complete over one model profile (5 queues)');
    const claimOne = async (i: number) => {
      const profile = queues.filter((q) => q.model_profile === queues[(i * 5) % queues.length].model_profile);
      const t0 = performance.now();
      const jobs = await driver.claim(profile, 1, i);
      const ms = performance.now() - t0;
      if (jobs.length !== 1) throw new Error(`claimed ${jobs.length} jobs from a full backlog`);
      await driver.complete(jobs);
      return ms;
    };
    // The service was started before seeding and has served nothing yet: its first claims
    // compile the routes' validators, prepare each pooled connection's statements and run
    // unoptimized JavaScript. A service in production has done all that long ago.
    await sample({ samples: ctx.quick ? WARM_UP_CLAIMS.quick : WARM_UP_CLAIMS.full, durationMs: SAMPLE_MS }, claimOne);
    const serverBefore = await serverCounters(ctx.serviceSql);
    const readsBefore = await blocksRead(ctx.serviceSql);
    const claims = await sample({ samples: samples * 5, durationMs: SAMPLE_MS }, claimOne);
    // The claims follow the seed's CHECKPOINT: each page they touch for the first time goes into
    // the WAL whole, which a deployment pays about once per page per checkpoint_timeout. The WAL
    // position is the server's: an autovacuum during the sample adds its own.
    const wal = await serverCountersSince(ctx.serviceSql, serverBefore);
    await new Promise((r) => setTimeout(r, STATS_FLUSH_MS)); // until the claims' backends have flushed their statistics
    const reads = readsPer(readsBefore, await blocksRead(ctx.serviceSql), claims.count);
    metrics.push(
      m('claim (1) p99', 'ms', pMs(claims, 99), { max: 10 }, `p50 ${pMs(claims, 50).toFixed(2)} ms over ${claims.count} claims`),
      m(
        'WAL per claim + complete',
        'KiB',
        wal.wal_bytes / 1024 / claims.count,
        undefined,
        `${(wal.wal_fpi / claims.count).toFixed(2)} full-page images per claim + complete; the server's whole WAL over the sample, autovacuum's too`,
      ),
      m(
        'blocks read from outside shared buffers per claim + complete',
        'count',
        reads.total,
        undefined,
        `every backend's over the sample; most: ${reads.most}`,
      ),
    );

    ctx.log('  long-poll wake-up');
    const wakeQueue = { task_type: 'bench_wake', model_profile: 'scale-wake' };
    await ctx.warmQueues([wakeQueue]);
    await sample({ samples: WARM_UP_WAKES, durationMs: SAMPLE_MS }, () => driver.wakeup(wakeQueue)); // as the claims above
    const wake = await sample({ samples, durationMs: SAMPLE_MS }, () => driver.wakeup(wakeQueue));
    metrics.push(m('long-poll wake-up p99', 'ms', pMs(wake, 99), { max: 50 }));

    ctx.log('  reaper tick, every lease alive');
    const running = (await ctx.serviceSql.query(`SELECT count(*)::int AS n FROM jobs WHERE status = 'running'`)).rows[0].n;
    const reaper = await sample(opts, () => timed(() => reapExpiredLeases(ctx.serviceSql, 500)));
    metrics.push(m('reaper tick p99', 'ms', pMs(reaper, 99), { max: 100 }, `${running} running jobs, none expired`));

    ctx.log('  GET /stats');
    const stats = await sample(opts, () => timed(() => getJson(http, '/api/v1/stats')));
    metrics.push(m('GET /stats p95', 'ms', pMs(stats, 95), { max: 50 }));

    const filters: Record<string, string> = {
      owner_service: `owner_service=${OWNERS[7]}`,
      owner_ref: 'owner_ref=seed%2F4242',
      'task_type + model_profile': `task_type=summary&model_profile=${queues[13].model_profile}`,
      'status=failed': 'status=failed',
      'status=pending': 'status=pending',
      error_category: 'error_category=timeout',
      'error_category, following pages': 'error_category=rate_limited',
    };
    for (const [name, query] of Object.entries(filters)) {
      ctx.log(`  GET /jobs?${query}`);
      let before = '';
      const h = await sample(opts, async () => {
        const t0 = performance.now();
        const page = await getJson(http, `/api/v1/jobs?${query}&limit=50${before}`);
        const ms = performance.now() - t0;
        // the second page of each filter, keyset on id, as a client pages
        before = name.endsWith('following pages') && page.next_cursor ? `&cursor=${encodeURIComponent(page.next_cursor)}` : '';
        if (!page.jobs.length && !name.startsWith('owner_ref')) throw new Error(`GET /jobs?${query} found nothing`);
        return ms;
      });
      metrics.push(m(`GET /jobs ${name} p95`, 'ms', pMs(h, 95), { max: 50 }));
    }

    ctx.log("  pg-boss's own maintenance pass (boss.supervise(): queue stats over every row of our queues)");
    metrics.push(m('pg-boss supervise() pass', 'ms', await supervisePass(ctx), undefined, `${queues.length} queues`));
    metrics.push(m("leader's queue-depth pass (our counters + supervise(webhooks))", 'ms', await leaderQueuePass(ctx)));

    ctx.log(`  ${o.heartbeats} heartbeats`);
    metrics.push(...(await heartbeats(ctx, o.heartbeats)));
  } finally {
    await Promise.all([http.close(), driver.close()]);
  }

  ctx.log('  purge at a tenth of the scale, with 8 workers claiming');
  const purge = await purgeScenario({
    serviceUrl: ctx.service.url,
    sql: ctx.serviceSql,
    quick: ctx.quick,
    log: ctx.log,
    headers: { authorization: `Bearer ${BENCH_TOKENS.admin}` },
    size: { expired: Math.max(1000, Math.round(o.jobs / 10)), pending: 20_000, phaseMs: 10_000 },
    // the seeded finished jobs stay: at 10 M their times span 15 minutes and the seed takes
    // over 20, so they would be past the purge's 30-minute retention by now
    keepNewerThanMs: performance.now() - seedStart + o.jobs * SPACING_MS + 10 * 60_000,
  });
  return [...metrics, ...purge.map((p) => ({ ...p, scenario: SCENARIO }))];
}
