// pg-boss's own API (what its dashboard's buttons call) acting on our queues, on the
// same database as the service: no API call answers 500, other jobs keep flowing,
// and the leader adopts each change into `jobs` within a few seconds, leaving the
// two stores consistent.
import { expect } from 'chai';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { findViolations } from '../../scripts/check-consistency.ts';
import { checkPgbossVersion, SUPPORTED_PGBOSS } from '../../src/pgboss/boss.ts';
import { jobBody, useService } from '../support/service.ts';
import { waitUntil } from '../support/wait.ts';
import { startReceiver, type Receiver } from '../webhooks/receiver.ts';

const PROFILE = 'pgboss-tools';
const QUEUE = `call_analysis/${PROFILE}`;

describe('pg-boss tooling on our queues', () => {
  const { t, api } = useService({
    WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
    WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true',
    WEBHOOK_SECRET: 'pgboss-tools-secret',
  });
  let receiver: Receiver;
  let boss: PgBoss;
  before(async () => {
    receiver = await startReceiver();
    boss = new PgBoss({ connectionString: t.databaseUrl, migrate: false, supervise: false, schedule: false });
    boss.on('error', () => {});
    await boss.start();
  });
  after(async () => {
    await boss.stop({ graceful: false });
    await receiver.close();
  });
  afterEach(async function () {
    if (this.currentTest?.title.includes('without the contract')) return;
    expect(await findViolations(t.sql)).to.deep.equal([]);
  });

  const create = (over: Record<string, unknown> = {}) => api.create(jobBody({ model_profile: PROFILE, ...over }));
  /** Waits until the leader's adoption pass has moved the job to `status`. */
  const adopted = (id: string, status: string) =>
    waitUntil(
      async () => {
        const job = await api.get(id);
        return job.status === status && job;
      },
      { what: `job ${id} to become ${status}` },
    );
  const claimAll = () => api.claim({ worker_id: 'w', model_profiles: [PROFILE], limit: 100 });

  it('fetch: the claim skips a job fetched natively and takes the next; the job becomes running, then completed', async () => {
    const a = await create();
    const b = await create();
    const [fetched] = await boss.fetch(QUEUE);
    expect(fetched.id).to.equal(a.id);
    const claimed = await claimAll();
    expect(claimed.jobs.map((j: { id: string }) => j.id)).to.deep.equal([b.id]);
    const running = await adopted(a.id, 'running');
    expect(running.worker_id).to.equal('pg-boss');
    expect(running.attempts_history.at(-1)).to.include({ worker_id: 'pg-boss', outcome: null });
    // No lease token usable over HTTP: the worker calls are refused, not 500.
    await api.complete(a.id, { lease_token: crypto.randomUUID(), result: {} }, 409);
    await boss.complete(QUEUE, fetched.id, { summary: 'done natively' });
    const done = await adopted(a.id, 'completed');
    expect(done.result).to.deep.equal({ summary: 'done natively' });
    expect(done.attempts_history.at(-1).outcome).to.equal('completed');
    await api.complete(b.id, { lease_token: claimed.jobs[0].lease_token, result: {} });
  });

  it('work: a native consumer completes a job; the API shows it completed', async () => {
    const a = await create();
    await boss.work(QUEUE, { pollingIntervalSeconds: 0.5 }, async () => ({ via: 'work' }));
    const done = await adopted(a.id, 'completed');
    await boss.offWork(QUEUE);
    expect(done.result).to.deep.equal({ via: 'work' });
  });

  it('fail: a natively fetched job failed through pg-boss with no retries left becomes failed', async () => {
    const a = await create({ max_attempts: 1 });
    await boss.fetch(QUEUE);
    await boss.fail(QUEUE, a.id, { message: 'bad model output' });
    const failed = await adopted(a.id, 'failed');
    expect(failed.error).to.deep.equal({ category: 'failed_in_pgboss', message: 'bad model output' });
  });

  it('cancel: a pending job cancelled through pg-boss becomes cancelled and fires its webhook', async () => {
    const a = await create({ callback_url: receiver.url });
    await boss.cancel(QUEUE, a.id);
    const cancelled = await adopted(a.id, 'cancelled');
    expect(cancelled.error.category).to.equal('cancelled_in_pgboss');
    expect(cancelled.attempts_history.at(-1)).to.include({ outcome: 'adopted', worker_id: 'pg-boss' });
    const [hook] = await receiver.waitFor(1);
    expect(JSON.parse(hook.body)).to.include({ type: 'job.cancelled' });
    await api.cancel(a.id, 409);
    await api.retry(a.id, {}, 409);
  });

  it('resume: a job cancelled through the API and resumed through pg-boss is pending again and claimable', async () => {
    const a = await create();
    await api.cancel(a.id);
    await boss.resume(QUEUE, a.id);
    await adopted(a.id, 'pending');
    const claimed = await claimAll();
    expect(claimed.jobs.map((j: { id: string }) => j.id)).to.deep.equal([a.id]);
    await api.complete(a.id, { lease_token: claimed.jobs[0].lease_token, result: {} });
  });

  it('retry: a failed job retried through pg-boss is pending again, with an attempt left', async () => {
    const a = await create({ max_attempts: 1 });
    const [job] = (await claimAll()).jobs;
    await api.fail(a.id, { lease_token: job.lease_token, category: 'invalid_input', message: 'no' });
    await boss.retry(QUEUE, a.id);
    const pending = await adopted(a.id, 'pending');
    expect(pending.max_attempts).to.be.greaterThan(pending.attempts);
    const [again] = (await claimAll()).jobs;
    expect(again.id).to.equal(a.id);
    await api.complete(a.id, { lease_token: again.lease_token, result: {} });
  });

  it('deleteJob: a pending job deleted through pg-boss becomes cancelled and its pg-boss row is recreated', async () => {
    const a = await create();
    const b = await create();
    await boss.deleteJob(QUEUE, a.id);
    // before the adoption pass: the claim passes over the missing row, cancel is no 500
    const claimed = await claimAll();
    expect(claimed.jobs.map((j: { id: string }) => j.id)).to.deep.equal([b.id]);
    const cancelled = await adopted(a.id, 'cancelled');
    expect(cancelled.error.category).to.equal('deleted_in_pgboss');
    const row = await t.sql.query('SELECT state FROM pgboss.job WHERE name = $1 AND id = $2', [QUEUE, a.id]);
    expect(row.rows).to.deep.equal([{ state: 'cancelled' }]);
    await api.complete(b.id, { lease_token: claimed.jobs[0].lease_token, result: {} });
  });

  it('send: a job sent through pg-boss with the job contract is adopted as an ordinary job', async () => {
    const id = (await boss.send(QUEUE, { owner_service: 'ops-tool', owner_ref: 'native/1', input: { text: 'hi' }, priority: 5 }))!;
    const job = await waitUntil(async () => (await api.list({ owner_ref: 'native/1' })).jobs[0], { what: 'the sent job to appear' });
    expect(job).to.include({
      id,
      owner_service: 'ops-tool',
      task_type: 'call_analysis',
      model_profile: PROFILE,
      status: 'pending',
      priority: 5,
    });
    expect(job.input).to.deep.equal({ text: 'hi' });
    const [claimed] = (await claimAll()).jobs;
    expect(claimed.id).to.equal(id);
    await api.complete(id, { lease_token: claimed.lease_token, result: {} });
  });

  it('send: a row without the contract is reported and left alone (without the contract)', async () => {
    const id = (await boss.send(QUEUE, { something: 'else' }))!;
    await waitUntil(async () => (await t.sql.query(`SELECT 1 FROM pgboss_changes WHERE job_id = $1`, [id])).rowCount === 0, {
      what: 'the change note to be read',
    });
    await waitUntil(async () => t.logs.some((l) => l.includes(id) && l.includes('without the job contract')), { what: 'the log line' });
    const state = await t.sql.query('SELECT state FROM pgboss.job WHERE name = $1 AND id = $2', [QUEUE, id]);
    expect(state.rows).to.deep.equal([{ state: 'created' }]);
    expect((await t.sql.query('SELECT 1 FROM jobs WHERE id = $1', [id])).rowCount).to.equal(0);
    const violations = await findViolations(t.sql);
    expect(violations.map((v) => [v.violation, v.job_id])).to.deep.equal([['orphan_in_pgboss', id]]);
    const metrics = await fetch(`${t.url}/metrics`).then((r) => r.text());
    expect(metrics).to.match(/ai_service_pgboss_foreign_rows_total\{queue="call_analysis\/pgboss-tools"\} [1-9]/);
    await t.sql.query('DELETE FROM pgboss.job WHERE name = $1 AND id = $2', [QUEUE, id]);
  });

  it('counts adoptions in /metrics', async () => {
    const metrics = await fetch(`${t.url}/metrics`).then((r) => r.text());
    expect(metrics).to.match(/ai_service_pgboss_adoptions_total\{queue="call_analysis\/pgboss-tools",action="cancelled_in_pgboss"\} [1-9]/);
  });
});

describe('pg-boss version guard', () => {
  const { t } = useService();
  it('refuses a database whose pg-boss schema is newer than the supported one, naming both versions', async () => {
    const c = new pg.Client({ connectionString: t.databaseUrl });
    await c.connect();
    try {
      await c.query('BEGIN');
      await c.query('UPDATE pgboss.version SET version = $1', [SUPPORTED_PGBOSS.schema + 1]);
      const err = await checkPgbossVersion(c).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message)
        .to.include(`version ${SUPPORTED_PGBOSS.schema + 1}`)
        .and.include(`pg-boss ${SUPPORTED_PGBOSS.version}`);
    } finally {
      await c.query('ROLLBACK');
      await c.end();
    }
  });
  it('accepts the supported version', async () => {
    await checkPgbossVersion(t.sql);
  });
});
