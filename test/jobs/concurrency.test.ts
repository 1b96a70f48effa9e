// Concurrent claimers, two service instances on one database, lease expiry through
// the background reaper, and concurrent idempotent creates.
import { expect } from 'chai';
import { client, jobBody, setup, type TestService } from '../support/service.ts';
import { expectProblem, RESULT } from './helpers.ts';
import { expectConsistent } from '../support/consistency.ts';
import { waitUntil } from '../support/wait.ts';

type Api = ReturnType<typeof client>;

/** Claims (limit `limit`) and completes until a claim comes back empty; returns the ids it completed. */
async function drain(api: Api, worker: string, profile: string, limit: number): Promise<string[]> {
  const done: string[] = [];
  for (;;) {
    const { jobs } = await api.claim({ worker_id: worker, model_profiles: [profile], limit });
    if (!jobs.length) return done;
    for (const j of jobs) {
      await api.complete(j.id, { lease_token: j.lease_token, result: { by: worker } });
      done.push(j.id);
    }
  }
}

async function seed(api: Api, profile: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 1000) {
    const count = Math.min(1000, n - i);
    const items = Array.from({ length: count }, (_, k) => ({ owner_ref: `c/${i + k}`, task_type: `t${(i + k) % 3}`, input: { n: i + k } }));
    const { jobs } = await api.batch({ defaults: { owner_service: 'conc', model_profile: profile }, jobs: items });
    ids.push(...jobs.map((j: any) => j.id));
  }
  return ids;
}

function expectEachOnce(claimed: string[], created: string[]): void {
  expect(claimed.length, 'claims').to.equal(created.length);
  expect(new Set(claimed).size, 'distinct claims').to.equal(created.length);
  expect([...claimed].sort()).to.deep.equal([...created].sort());
}

describe('concurrency', function () {
  this.timeout(120_000);
  let t: TestService;
  let t2: TestService;
  let api: Api;
  let api2: Api;
  before(async () => {
    t = await setup();
    // a second instance of the service on the same database
    t2 = await setup({ LONG_POLL_RECHECK: '60s' }, t.databaseUrl);
    api = client(t.api);
    api2 = client(t2.api);
  });
  after(async () => {
    await t2?.close();
    await t?.close();
  });

  it('8 concurrent claimers over 2,000 jobs claim each exactly once and lose none', async () => {
    const created = await seed(api, 'conc-8', 2000);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => drain(api, `w${i}`, 'conc-8', i % 2 ? 1 : 25)));
    expectEachOnce(results.flat(), created);
    const { rows } = await t.sql.query(`SELECT status, count(*)::int AS n FROM jobs WHERE model_profile = 'conc-8' GROUP BY status`);
    expect(rows).to.deep.equal([{ status: 'completed', n: 2000 }]);
    const attempts = await t.sql.query(
      `SELECT count(*)::int AS n FROM job_attempts a JOIN jobs j ON j.id = a.job_id WHERE j.model_profile = 'conc-8'`,
    );
    expect(attempts.rows[0].n).to.equal(2000);
    await expectConsistent(t.sql);
  });

  it('two service instances claiming concurrently never hand out a job twice', async () => {
    const created = await seed(api2, 'conc-2i', 1000);
    const workers = Array.from({ length: 8 }, (_, i) => drain(i % 2 ? api : api2, `w${i}`, 'conc-2i', 1 + (i % 3) * 5));
    const results = await Promise.all(workers);
    expectEachOnce(results.flat(), created);
    expect(results.filter((r) => r.length > 0).length, 'workers that got jobs').to.be.greaterThan(1);
    await expectConsistent(t.sql);
  });

  it('the reaper returns an expired lease to pending; the late worker gets 409; attempt 2 completes', async () => {
    const job = await api.create(jobBody({ model_profile: 'conc-lease' }));
    const [first] = (await api.claim({ worker_id: 'slow', model_profiles: ['conc-lease'], lease_seconds: 1 })).jobs;
    const requeued = await waitUntil(
      async () => {
        const j = await api.get(job.id);
        return j.status === 'pending' ? j : undefined;
      },
      { what: 'the reaper to requeue the job' },
    );
    expect(requeued).to.include({ attempts: 1 });
    expect(requeued.error.category).to.equal('lease_expired');
    expect(requeued.attempts_history[0].outcome).to.equal('lease_expired');
    expectProblem(await api.complete(job.id, { lease_token: first.lease_token, result: { late: true } }, 409), 'lease_lost');
    await expectConsistent(t.sql);
    const [second] = (await api2.claim({ worker_id: 'fast', model_profiles: ['conc-lease'] })).jobs;
    expect(second).to.include({ id: job.id, attempt: 2 });
    expectProblem(await api.heartbeat(job.id, { lease_token: first.lease_token }, 409), 'lease_lost');
    const done = await api2.complete(job.id, { lease_token: second.lease_token, result: RESULT });
    expect(done.result).to.deep.equal(RESULT);
    await expectConsistent(t.sql);
  });

  it('the reaper fails a job whose last attempt expired', async () => {
    const job = await api.create(jobBody({ model_profile: 'conc-lease-last', max_attempts: 1 }));
    await api.claim({ worker_id: 'slow', model_profiles: ['conc-lease-last'], lease_seconds: 1 });
    const failed = await waitUntil(
      async () => {
        const j = await api.get(job.id);
        return j.status === 'failed' ? j : undefined;
      },
      { what: 'the reaper to fail the job' },
    );
    expect(failed.error.category).to.equal('lease_expired');
    await expectConsistent(t.sql);
  });

  it('wakes a long-polling claimer on one instance when a job is created on the other', async () => {
    // instance 2 re-checks only every 60 s, so returning the job proves the NOTIFY wake-up
    const waiting = api2.claim({ worker_id: 'poller', model_profiles: ['conc-wake'], wait_seconds: 20 });
    await waitUntil(async () => t2.service.jobs.waitingClaims === 1, { what: 'the claim to wait' });
    const job = await api.create(jobBody({ model_profile: 'conc-wake' }));
    const { jobs } = await waiting;
    expect(jobs.map((j: any) => j.id)).to.deep.equal([job.id]);
    expect(t2.service.jobs.waitingClaims).to.equal(0);
  });

  it('wakes a long-polling claimer when a job returns to pending (retry)', async () => {
    const job = await api.create(jobBody({ model_profile: 'conc-wake-retry', max_attempts: 1 }));
    const [c] = (await api.claim({ worker_id: 'w', model_profiles: ['conc-wake-retry'] })).jobs;
    await api.fail(job.id, { lease_token: c.lease_token, category: 'internal', message: 'x' });
    const waiting = api2.claim({ worker_id: 'poller', model_profiles: ['conc-wake-retry'], wait_seconds: 20 });
    await waitUntil(async () => t2.service.jobs.waitingClaims === 1, { what: 'the claim to wait' });
    await api.retry(job.id);
    expect((await waiting).jobs.map((j: any) => j.id)).to.deep.equal([job.id]);
  });

  it('returns an empty list when the wait ends without a job', async () => {
    const { jobs } = await api.claim({ worker_id: 'poller', model_profiles: ['conc-nothing'], wait_seconds: 0.3 });
    expect(jobs).to.deep.equal([]);
  });

  it('a client that disconnects while long-polling claims nothing', async () => {
    const controller = new AbortController();
    const request = fetch(`${t2.url}/api/v1/jobs/claim`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ worker_id: 'gone', model_profiles: ['conc-gone'], wait_seconds: 20 }),
      signal: controller.signal,
    }).catch((err) => err);
    await waitUntil(async () => t2.service.jobs.waitingClaims === 1, { what: 'the claim to wait' });
    controller.abort();
    expect(await request).to.be.instanceOf(Error);
    await waitUntil(async () => t2.service.jobs.waitingClaims === 0, { what: 'the server to notice the disconnect' });
    const job = await api.create(jobBody({ model_profile: 'conc-gone' }));
    // another claimer on the same instance gets it: the gone client took nothing
    const { jobs } = await api2.claim({ worker_id: 'present', model_profiles: ['conc-gone'], wait_seconds: 5 });
    expect(jobs.map((j: any) => j.id)).to.deep.equal([job.id]);
    expect(jobs[0].attempt).to.equal(1);
  });

  it('concurrent duplicate creates with one idempotency key make exactly one job', async () => {
    const body = jobBody({ model_profile: 'conc-idem', idempotency_key: 'concurrent-key' });
    const responses = await Promise.all(Array.from({ length: 16 }, (_, i) => (i % 2 ? t.api : t2.api).post('/api/v1/jobs').send(body)));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).to.deep.equal([200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(responses.map((r) => r.body.id)).size).to.equal(1);
    const { rows } = await t.sql.query(`SELECT count(*)::int AS n FROM jobs WHERE idempotency_key = 'concurrent-key'`);
    expect(rows[0].n).to.equal(1);
  });

  it('concurrent batches sharing keys in opposite orders neither deadlock nor duplicate', async () => {
    const items = Array.from({ length: 50 }, (_, i) => ({ owner_ref: `k/${i}`, idempotency_key: `batch-key-${i}`, input: { i } }));
    const defaults = { owner_service: 'conc', task_type: 'idem', model_profile: 'conc-idem-batch' };
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        (i % 2 ? t.api : t2.api).post('/api/v1/jobs/batch').send({ defaults, jobs: i % 2 ? items : [...items].reverse() }),
      ),
    );
    for (const r of responses) expect(r.status, JSON.stringify(r.body)).to.equal(201);
    const { rows } = await t.sql.query(`SELECT count(*)::int AS n FROM jobs WHERE model_profile = 'conc-idem-batch'`);
    expect(rows[0].n).to.equal(50);
    const byKey = (r: any) => Object.fromEntries(r.body.jobs.map((j: any) => [j.idempotency_key, j.id]));
    for (const r of responses) expect(byKey(r)).to.deep.equal(byKey(responses[0]));
    await expectConsistent(t.sql);
  });
});
