// The hot paths' query plans at 100,000 pending jobs over 20 queues: no sequential
// scans, and a claim reads index entries in proportion to queues × limit, not to
// the number of pending jobs. Speed itself is measured by `npm run bench`.
import { expect } from 'chai';
import type pg from 'pg';
import type { Queryable } from '../../src/db/pool.ts';
import { cancelJob, retryJob } from '../../src/jobs/admin-store.ts';
import { adoptSent } from '../../src/jobs/adoption.ts';
import { CLAIM_BEGIN } from '../../src/jobs/claim.ts';
import { readHeads, takeFromLanes } from '../../src/jobs/claim-store.ts';
import { findByIdempotencyKeys } from '../../src/jobs/create-store.ts';
import { getJob, listJobs } from '../../src/jobs/read-store.ts';
import { completeJobs, failJob, heartbeat } from '../../src/jobs/settle-store.ts';
import { reapExpiredLeases } from '../../src/jobs/lease-reaper.ts';
import { jobBody, useService } from '../support/service.ts';
import { expectConsistent } from '../support/consistency.ts';
import { seedJobs } from '../support/seed.ts';

const PENDING = 100_000;
const FINISHED = 50_000;
const FAILED = 20_000;
const TASKS = ['t0', 't1', 't2', 't3'];
const PROFILES = ['p0', 'p1', 'p2', 'p3', 'p4']; // 4 × 5 = 20 queues

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/** Records the statement a storage function sends instead of running it. */
function capture(): Queryable & { last: { text: string; values: unknown[] } } {
  const spy: any = {
    query: async (q: any, values?: unknown[]) => {
      spy.last = typeof q === 'string' ? { text: q, values } : { text: q.text, values: q.values };
      return { rows: [], rowCount: 0 };
    },
  };
  return spy;
}

describe('query plans at 100k pending jobs over 20 queues', function () {
  this.timeout(120_000);
  const { t, api } = useService({ REAPER_INTERVAL: '1h' });
  let running: { id: string; lease_token: string };

  before(async () => {
    // one job per queue through the API creates the queues; the rest is bulk-seeded alike
    for (const task_type of TASKS) for (const model_profile of PROFILES) await api.create(jobBody({ task_type, model_profile }));
    const queues = TASKS.flatMap((task_type) => PROFILES.map((model_profile) => ({ task_type, model_profile })));
    // 10% of the pending jobs are delayed (run_after an hour ahead); three priority levels
    await seedJobs(t.sql, { queues, count: PENDING - 20, status: 'pending', priorities: 3, deferred: 10 });
    // and finished jobs with their attempts, as a table in use has them
    await seedJobs(t.sql, { queues, count: FINISHED, status: 'completed' });
    // failed jobs of two owners over five error categories, for the list filters
    await seedJobs(t.sql, {
      queues,
      count: FAILED,
      status: 'failed',
      owner_services: ['billing', 'support'],
      error_categories: ['provider_error', 'timeout', 'invalid_input', 'rate_limited', 'internal'],
    });
    await t.sql.query('ANALYZE jobs; ANALYZE job_attempts; ANALYZE pgboss.job');
    await expectConsistent(t.sql);
    const [c] = (await api.claim({ worker_id: 'w', model_profiles: ['p0'], lease_seconds: 600 })).jobs;
    running = c;
  });

  /** EXPLAIN ANALYZE of the statement `call` sends, run in a transaction that is rolled back. */
  async function plan(call: (db: Queryable) => Promise<unknown>): Promise<PlanNode[]> {
    const spy = capture();
    await call(spy);
    const c: pg.PoolClient = await t.sql.connect();
    try {
      await c.query('BEGIN');
      const { rows } = await c.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${spy.last.text}`, spy.last.values);
      return nodes(rows[0]['QUERY PLAN'][0].Plan);
    } finally {
      await c.query('ROLLBACK');
      c.release();
    }
  }

  function expectNoSeqScan(all: PlanNode[]): void {
    const seq = all.filter(
      (n) => n['Node Type'] === 'Seq Scan' && !['job_queues', 'job_lanes', 'fair_share', 'fair_clock'].includes(n['Relation Name'] ?? ''),
    );
    expect(
      seq.map((n) => n['Relation Name']),
      'sequential scans',
    ).to.deep.equal([]);
  }

  /** Index entries the claim read from the lane indexes. */
  const claimIndexRows = (all: PlanNode[]) =>
    all
      .filter((n) => n['Index Name'] === 'jobs_lane_idx' || n['Index Name'] === 'jobs_owner_lane_idx')
      .reduce((s, n) => s + n['Actual Rows'] * n['Actual Loops'], 0);

  const claims: [string, { modelProfiles?: string[]; taskTypes?: string[] }, number][] = [
    ['one profile (4 queues)', { modelProfiles: ['p1'] }, 4],
    ['all five profiles (20 queues)', { modelProfiles: PROFILES }, 20],
    ['one task type (5 queues)', { taskTypes: ['t2'] }, 5],
    ['one profile and one task type (1 queue)', { modelProfiles: ['p2'], taskTypes: ['t3'] }, 1],
  ];
  for (const [name, filter, queues] of claims) {
    for (const limit of [1, 50]) {
      it(`claim, ${name}, limit ${limit}: bounded index reads, no sort over pending jobs`, async () => {
        // two owners (the API's and the seeder's): a claim naming only profiles reads one lane per
        // owner and profile, one naming task types two per queue; delayed jobs are in neither index
        const mode = filter.taskTypes ? 'queue' : 'owner';
        const lanes = mode === 'queue' ? queues * 2 : (filter.modelProfiles?.length ?? 0) * 2;
        const all = await plan((db) => readHeads(db, { mode, limit, excluded: [], ...filter }));
        expectNoSeqScan(all);
        expect(claimIndexRows(all)).to.be.at.most(lanes * limit);
        const sorts = all.filter((n) => n['Node Type'] === 'Sort');
        // besides the heads, only the lane registry's rows (queues × owners) may be sorted (DISTINCT):
        // four owners have lanes (the API's, the seeder's, and the two of the failed jobs)
        for (const s of sorts) expect(s['Actual Rows']).to.be.at.most(Math.max(lanes * limit, queues * 4));
      });
    }
  }

  for (const mode of ['owner', 'queue'] as const)
    it(`a claim takes its allocated jobs of a ${mode} lane reading only those index entries`, async () => {
      const all = await plan((db) =>
        takeFromLanes(db, {
          mode,
          workerId: 'w',
          leaseSeconds: 60,
          takes: [{ queue: 't1/p1', model_profile: 'p1', owner_service: 'seed', count: 50 }],
          passes: [{ model_profile: 'p1', owner_service: 'seed', start: 0, weight: 1 }],
          clocks: [{ model_profile: 'p1', pass: 0 }],
        }),
      );
      expectNoSeqScan(all);
      expect(claimIndexRows(all)).to.be.at.most(50);
    });

  // A claim runs its statements on generic plans (src/jobs/claim.ts, CLAIM_BEGIN): those
  // must walk the same lane indexes, whatever the parameters turn out to be.
  for (const mode of ['owner', 'queue'] as const)
    it(`a claim's generic plans (${mode} lanes) read the lane index and scan no table, however small`, async () => {
      const lanes = (n: PlanNode[]) => n.filter((x) => x['Index Name'] === (mode === 'owner' ? 'jobs_owner_lane_idx' : 'jobs_lane_idx'));
      const take = { queue: 't1/p1', model_profile: 'p1', owner_service: 'seed', count: 1 };
      for (const call of [
        (db: Queryable) => readHeads(db, { mode, limit: 1, excluded: [], modelProfiles: ['p1'] }),
        (db: Queryable) => takeFromLanes(db, { mode, workerId: 'w', leaseSeconds: 60, takes: [take], passes: [], clocks: [] }),
      ]) {
        const spy = capture();
        await call(spy);
        // in the claim's own transaction settings (no bitmap scans: a bitmap scan reads the whole lane)
        const c = await t.sql.connect();
        let all: PlanNode[];
        try {
          await c.query(CLAIM_BEGIN);
          const { rows } = await c.query(`EXPLAIN (GENERIC_PLAN, FORMAT JSON) ${spy.last.text}`);
          all = nodes(rows[0]['QUERY PLAN'][0].Plan);
        } finally {
          await c.query('ROLLBACK');
          c.release();
        }
        // not even of the small tables: a generic plan scanned all of fair_share once per lane
        const seq = all.filter((n) => n['Node Type'] === 'Seq Scan').map((n) => n['Relation Name']);
        expect(seq, 'sequential scans').to.deep.equal([]);
        const scans = lanes(all).map((x) => x['Node Type']);
        expect(scans, 'lane index scans').to.have.length(1);
        expect(scans[0], 'the lane walked in order').to.be.oneOf(['Index Scan', 'Index Only Scan']);
      }
    });

  it("the adoption of rows sent through pg-boss finds them by pg-boss's primary key, not a scan", async () => {
    const { rows } = await t.sql.query(`SELECT queue, id AS job_id FROM jobs ORDER BY id DESC LIMIT 500`);
    const all = await plan((db) => adoptSent(db, rows));
    expectNoSeqScan(all);
    // (name, id) probes; by id alone PostgreSQL 18 would skip-scan the key over every queue name
    const boss = all.filter((n) => n['Relation Name']?.startsWith('job_common'));
    expect(boss.map((n) => [n['Index Name'], /\bname = /.test(n['Index Cond'] ?? '')])).to.deep.equal([['job_common_pkey', true]]);
  });

  it('heartbeat, complete and fail find the job through an index', async () => {
    for (const call of [
      (db: Queryable) => heartbeat(db, running.id, running.lease_token, 60),
      (db: Queryable) => completeJobs(db, [{ id: running.id, lease_token: running.lease_token, result: { ok: true } }]),
      (db: Queryable) =>
        failJob(db, running.id, running.lease_token, { error: { category: 'x', message: 'y' }, retryable: true }, { baseMs: 1, maxMs: 2 }),
    ]) {
      const all = await plan(call);
      expectNoSeqScan(all);
      // two reads of the job, both by index: the id-ordered lock, then the update's lookup
      expect(all.filter((n) => n['Relation Name'] === 'jobs' && n['Node Type'] !== 'ModifyTable').map((n) => n['Node Type'])).to.deep.equal(
        ['Index Scan', 'Index Scan'],
      );
    }
  });

  it('retry, cancel, get, list by owner_ref and the newest-first list use indexes', async () => {
    const { rows } = await t.sql.query(`SELECT id FROM jobs WHERE status = 'pending' LIMIT 1`);
    for (const call of [
      (db: Queryable) => retryJob(db, running.id, false, 0),
      (db: Queryable) => cancelJob(db, rows[0].id),
      (db: Queryable) => getJob(db, rows[0].id),
      (db: Queryable) => listJobs(db, { owner_ref: 'seed/77', owner_service: ['seed'], limit: 51 }),
      (db: Queryable) => listJobs(db, { limit: 51 }),
      (db: Queryable) => listJobs(db, { model_profile: 'p3', limit: 51, before_id: rows[0].id }),
      (db: Queryable) => findByIdempotencyKeys(db, [{ owner_service: 'seed', idempotency_key: 'k' }]),
    ]) {
      expectNoSeqScan(await plan(call));
    }
    // owner_ref is looked up in job_keys (migration 015), then each job by primary key
    for (const before_id of [undefined, rows[0].id]) {
      const byRef = await plan((db) => listJobs(db, { owner_ref: 'seed/77', limit: 51, before_id }));
      expect(byRef.some((n) => n['Index Name'] === 'job_keys_owner_ref_idx')).to.equal(true);
      expect(byRef.some((n) => n['Index Name'] === 'jobs_pkey')).to.equal(true);
      expect(jobsRowsRead(byRef)).to.be.below(10);
    }
  });

  // Rows of `jobs` a plan touched: returned by its scans plus those its filters threw away.
  const jobsRowsRead = (all: PlanNode[]) =>
    all
      .filter((n) => n['Relation Name'] === 'jobs' && n['Node Type'].includes('Scan'))
      .reduce(
        (sum, n) =>
          sum + (n['Actual Rows'] + (n['Rows Removed by Filter'] ?? 0) + (n['Rows Removed by Index Recheck'] ?? 0)) * n['Actual Loops'],
        0,
      );

  const PAGE = 51;
  const filters: [string, Omit<Parameters<typeof listJobs>[1], 'limit'>][] = [
    ['owner_service', { owner_service: ['billing'] }],
    ['task_type + model_profile', { task_type: 't1', model_profile: 'p2' }],
    ['status', { status: 'failed' }],
    ['status pending', { status: 'pending' }],
    ['error_category', { error_category: 'timeout' }],
  ];
  for (const [name, filter] of filters) {
    it(`a GET /jobs page filtered by ${name} reads about one page of rows, first page and next`, async () => {
      const first = await plan((db) => listJobs(db, { ...filter, limit: PAGE }));
      expectNoSeqScan(first);
      expect(jobsRowsRead(first)).to.be.at.most(PAGE * 2);
      const { rows } = await t.sql.query(`SELECT id FROM jobs ORDER BY id DESC OFFSET 5000 LIMIT 1`);
      const next = await plan((db) => listJobs(db, { ...filter, limit: PAGE, before_id: rows[0].id }));
      expect(jobsRowsRead(next)).to.be.at.most(PAGE * 2);
    });
  }

  it('the lease reaper finds expired leases through the open-lease index, reading at most a batch', async () => {
    const all = await plan((db) => reapExpiredLeases(db, 100));
    expectNoSeqScan(all);
    // as one join, the planner read every running job at 10 M jobs (lease-reaper.ts)
    const open = all.filter((n) => n['Index Name'] === 'job_attempts_open_lease_idx');
    expect(open, 'open-lease index scans').to.have.length(1);
    expect(open[0]['Actual Rows']).to.be.at.most(100);
  });
});
