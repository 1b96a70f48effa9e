import { expect } from 'chai';
import { PURGED_METRIC } from '../../src/retention/metrics.ts';
import { PURGE_REST_RATIO, Purger } from '../../src/retention/purge.ts';
import { seedJobs } from '../support/seed.ts';
import { parseExposition, value } from '../metrics/exposition.ts';
import type { JobStatus } from '../../src/jobs/job-row.ts';
import { given } from '../support/factory.ts';
import { client, jobBody, setup, type TestService } from '../support/service.ts';
import { RESULT } from '../jobs/helpers.ts';
import { waitUntil } from '../support/wait.ts';
import { startReceiver } from '../webhooks/receiver.ts';
import { ageJobs } from './support.ts';
import { expectConsistent } from '../support/consistency.ts';

type Api = ReturnType<typeof client>;

const DAY_MS = 86_400_000;

/** A job of `status` in queue `profile`, created (and, if finished, finished) `days` ago. */
async function jobIn(t: TestService, status: JobStatus, profile: string, days = 0): Promise<string> {
  const at = new Date(Date.now() - days * DAY_MS).toISOString();
  const finished = status === 'completed' || status === 'failed' || status === 'cancelled';
  const job = await given.job(t, {
    status,
    model_profile: profile,
    max_attempts: 1,
    created_at: at,
    finished_at: finished ? at : undefined,
  });
  return job.id;
}

async function rowsIn(t: TestService, ids: string[]) {
  const q = async (text: string) => (await t.sql.query(text, [ids])).rows.map((r) => r.id).sort();
  return {
    jobs: await q('SELECT id FROM jobs WHERE id = ANY($1::uuid[])'),
    boss: await q('SELECT id FROM pgboss.job WHERE id = ANY($1::uuid[])'),
    attempts: await q('SELECT DISTINCT job_id AS id FROM job_attempts WHERE job_id = ANY($1::uuid[])'),
  };
}

describe('retention purge', () => {
  let t: TestService;
  let api: Api;
  before(async () => {
    t = await setup({ PURGE_INTERVAL: '100ms', RETENTION_COMPLETED: '7d', RETENTION_FAILED: '30d', RETENTION_CANCELLED: '1d' });
    api = client(t.api);
  });
  after(() => t.close());
  afterEach(function () {
    if (this.currentTest?.state === 'failed')
      console.log(
        t.logs
          .filter((l) => /"level":[45]0/.test(l))
          .join('\n')
          .slice(0, 3000),
      );
  });

  it('removes jobs past their retention from the API and pg-boss together, and keeps everything else', async () => {
    const p = 'purge-a';
    const young = {
      completed: await jobIn(t, 'completed', p, 6), // retention 7d
      failed: await jobIn(t, 'failed', p, 29), // retention 30d
      cancelled: await jobIn(t, 'cancelled', p), // retention 1d
    };
    // Pending and running jobs ten years old are still never purged.
    const running = await jobIn(t, 'running', p, 3650);
    const pending = await jobIn(t, 'pending', p, 3650);
    // Written last: the pass that deletes an old job of a status has seen the young
    // job of that status at its final age.
    const old = {
      completed: await jobIn(t, 'completed', p, 8),
      failed: await jobIn(t, 'failed', p, 31),
      cancelled: await jobIn(t, 'cancelled', p, 8),
    };

    const gone = Object.values(old);
    await waitUntil(async () => (await rowsIn(t, gone)).jobs.length === 0, { what: 'expired jobs purged' });
    expect(await rowsIn(t, gone)).to.deep.equal({ jobs: [], boss: [], attempts: [] });
    for (const id of gone) await api.get(id, 404);

    const kept = [...Object.values(young), pending, running];
    const rows = await rowsIn(t, kept);
    expect(rows.jobs).to.deep.equal([...kept].sort());
    expect(rows.boss).to.deep.equal([...kept].sort());
    for (const id of kept) await api.get(id);
    expect((await api.get(pending)).status).to.equal('pending');
    expect((await api.get(running)).status).to.equal('running');
    await expectConsistent(t.sql, { counters: true });
  });

  it("deletes a job's attempts, events, progress and keys row with it, and nobody else's", async () => {
    const p = 'purge-children';
    const worked = async () => {
      const job = await api.create(jobBody({ model_profile: p }));
      const [held] = (await api.claim({ worker_id: 'w', model_profiles: [p] })).jobs;
      const res = await t.api.post(`/api/v1/jobs/${job.id}/progress`).send({ lease_token: held.lease_token, fraction: 0.5 });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      await api.complete(job.id, { lease_token: held.lease_token, result: RESULT });
      return job.id;
    };
    const [old, young] = [await worked(), await worked()];
    const count = async (id: string) => {
      const n = async (table: string) =>
        Number((await t.sql.query(`SELECT count(*) AS n FROM ${table} WHERE job_id = $1::uuid`, [id])).rows[0].n);
      return {
        attempts: await n('job_attempts'),
        events: await n('job_events'),
        progress: await n('job_progress'),
        keys: await n('job_keys'),
      };
    };
    const before = await count(young);
    expect(before.attempts).to.equal(1);
    expect(before.progress).to.equal(1);
    expect(before.keys).to.equal(1);
    expect(before.events).to.be.greaterThan(2); // created, running, progress, completed
    expect(await count(old)).to.deep.equal(before);

    await ageJobs(t.sql, [old], 8);
    await waitUntil(async () => (await rowsIn(t, [old])).jobs.length === 0, { what: 'old job purged' });
    expect(await count(old)).to.deep.equal({ attempts: 0, events: 0, progress: 0, keys: 0 });
    expect(await count(young)).to.deep.equal(before);
    await expectConsistent(t.sql, { counters: true });
  });

  it('rests after each full batch for 0.4 of its time, and not after the last', async () => {
    // two hours old: past this purger's hour, within the service's own 7 days
    await jobIn(t, 'completed', 'purge-paced'); // creates the queue; finished now, so it stays
    const queues = [{ task_type: 'call_analysis', model_profile: 'purge-paced' }];
    await seedJobs(t.sql, { queues, count: 25, status: 'completed', ageSeconds: 7200 });
    const rests: number[] = [];
    const purger = new Purger({
      db: t.sql,
      policy: { completed: 3_600_000, failed: 0, cancelled: 0 },
      rest: async (ms) => rests.push(ms),
    });
    const started = performance.now();
    const r = await purger.run({ batchRows: 10 });
    const elapsed = performance.now() - started;
    const mine = r.counts.filter((c) => c.queue === 'call_analysis/purge-paced');
    expect(mine.reduce((n, c) => n + c.n, 0)).to.equal(25);
    expect(r.batches).to.be.at.least(3); // 10, 10, 5 (and whatever older rows other tests left)
    expect(rests).to.have.length(r.batches - 1);
    for (const ms of rests)
      expect(ms)
        .to.be.above(0)
        .and.below(elapsed * PURGE_REST_RATIO);
    expect(PURGE_REST_RATIO).to.equal(0.4);
    await expectConsistent(t.sql);
  });

  it('counts purged rows per queue and in totals in /api/v1/stats, and lowers the status counts', async () => {
    const p = 'purge-stats';
    const ids = [await jobIn(t, 'completed', p), await jobIn(t, 'completed', p), await jobIn(t, 'failed', p)];
    const before = await api.stats();
    const queue = (s: any) => s.queues.find((q: { model_profile: string }) => q.model_profile === p);
    expect(queue(before)).to.include({ completed: 2, failed: 1, purged: 0 });
    await ageJobs(t.sql, ids, 40);
    await waitUntil(async () => (await rowsIn(t, ids)).jobs.length === 0, { what: 'purged' });
    const after = await api.stats();
    expect(queue(after)).to.include({ completed: 0, failed: 0, purged: 3 });
    expect(after.totals.purged - before.totals.purged).to.equal(3);
  });

  it('reports purged rows per queue in /metrics as the counter ai_service_jobs_purged_total', async () => {
    const p = 'purge-metric';
    const ids = [await jobIn(t, 'completed', p), await jobIn(t, 'cancelled', p)];
    const labels = { task_type: 'call_analysis', model_profile: p };
    const scrape = async () => {
      const res = await t.api.get('/metrics');
      expect(res.status).to.equal(200);
      const families = parseExposition(res.text);
      const family = families.get(PURGED_METRIC);
      expect(family?.type).to.equal('counter');
      expect(
        family?.samples.some((x) => x.labels.model_profile === p),
        'series present',
      ).to.equal(true);
      return value(families, PURGED_METRIC, labels);
    };
    expect(await scrape()).to.equal(0);
    await ageJobs(t.sql, ids, 10);
    await waitUntil(async () => (await rowsIn(t, ids)).jobs.length === 0, { what: 'purged' });
    // The scrape reads the stats through a 1 s cache: poll until it has moved on.
    await waitUntil(async () => (await scrape()) === 2, { what: 'counter at 2' });
  });
});

describe('retention purge with 0 (keep forever)', () => {
  let t: TestService;
  let api: Api;
  before(async () => {
    t = await setup({ PURGE_INTERVAL: '100ms', RETENTION_COMPLETED: '1d', RETENTION_FAILED: '0', RETENTION_CANCELLED: '0' });
    api = client(t.api);
  });
  after(() => t.close());

  it('never purges a status whose retention is 0, however old', async () => {
    const p = 'purge-forever';
    const completed = await jobIn(t, 'completed', p);
    const failed = await jobIn(t, 'failed', p);
    const cancelled = await jobIn(t, 'cancelled', p);
    await ageJobs(t.sql, [completed, failed, cancelled], 36_500);
    // The completed job (retention 1d) going proves a purge pass ran over these rows.
    await waitUntil(async () => (await rowsIn(t, [completed])).jobs.length === 0, { what: 'completed job purged' });
    expect((await api.stats()).totals.purged).to.equal(1);
    const rows = await rowsIn(t, [failed, cancelled]);
    expect(rows.jobs).to.deep.equal([failed, cancelled].sort());
    expect(rows.boss).to.deep.equal([failed, cancelled].sort());
    expect((await api.get(failed)).status).to.equal('failed');
    expect((await api.get(cancelled)).status).to.equal('cancelled');
  });
});

describe('retention purge of jobs with completion callbacks', () => {
  let t: TestService;
  let api: Api;
  before(async () => {
    t = await setup({
      PURGE_INTERVAL: '100ms',
      RETENTION_COMPLETED: '1d',
      WEBHOOK_SECRET: 'test-secret-0123456789',
      WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
      // The receivers run on 127.0.0.1, a loopback address.
      WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true',
      WEBHOOK_POLL_INTERVAL: '20ms',
    });
    api = client(t.api);
  });
  after(() => t.close());

  it('deletes the delivery record and its pg-boss outbox job with the job', async () => {
    const receiver = await startReceiver();
    try {
      const job = await api.create(jobBody({ model_profile: 'purge-hooks', callback_url: receiver.url }));
      const { jobs } = await api.claim({ worker_id: 'w', model_profiles: ['purge-hooks'] });
      await api.complete(job.id, { lease_token: jobs[0].lease_token, result: { content: 'done' } });
      await receiver.waitFor(1);
      const outbox = `SELECT p.id FROM webhook_deliveries d JOIN pgboss.job p ON p.name = 'webhooks' AND p.id = d.id
                      WHERE d.job_id = $1::uuid`;
      expect((await t.sql.query(outbox, [job.id])).rowCount).to.equal(1);
      const { rows } = await t.sql.query(`SELECT d.id FROM webhook_deliveries d WHERE d.job_id = $1::uuid`, [job.id]);
      await ageJobs(t.sql, [job.id], 2);
      await waitUntil(async () => (await rowsIn(t, [job.id])).jobs.length === 0, { what: 'job purged' });
      expect((await t.sql.query(`SELECT 1 FROM pgboss.job WHERE id = $1::uuid`, [rows[0].id])).rowCount).to.equal(0);
      expect((await t.sql.query(`SELECT 1 FROM webhook_deliveries WHERE job_id = $1::uuid`, [job.id])).rowCount).to.equal(0);
    } finally {
      await receiver.close();
    }
  });
});
