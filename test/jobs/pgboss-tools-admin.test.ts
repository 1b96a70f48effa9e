// Retry and cancel through the API on a job whose pg-boss row was changed through
// pg-boss's own API and not yet adopted: the service sets the row (or recreates a
// deleted one) and answers as for any job, never 500, leaving both stores consistent.
// The pg-boss call runs in a transaction that also withdraws the change note the
// watch trigger wrote, so the leader's adoption pass can never act first: the state
// every such API call may meet, made permanent for the test.
import { expect } from 'chai';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { bossDb } from '../../src/pgboss/boss.ts';
import { expectConsistent } from '../support/consistency.ts';
import { jobBody, useService } from '../support/service.ts';
import { waitUntil } from '../support/wait.ts';

const PROFILE = 'pgboss-admin';
const QUEUE = `call_analysis/${PROFILE}`;

describe('retry and cancel after pg-boss tooling changed the row', () => {
  const { t, api } = useService();
  let boss: PgBoss;
  let client: pg.Client;
  before(async () => {
    boss = new PgBoss({ connectionString: t.databaseUrl, migrate: false, supervise: false, schedule: false });
    boss.on('error', () => {});
    await boss.start();
    client = new pg.Client({ connectionString: t.databaseUrl });
    await client.connect();
  });
  after(async () => {
    await client.end();
    await boss.stop({ graceful: false });
  });
  afterEach(() => expectConsistent(t.sql));

  const create = (over: Record<string, unknown> = {}) => api.create(jobBody({ model_profile: PROFILE, ...over }));
  const claim = async () => (await api.claim({ worker_id: 'w', model_profiles: [PROFILE], limit: 1 })).jobs[0];
  /** Runs a pg-boss API call on the job and withdraws its change note in the same transaction. */
  const behindOurBack = async (id: string, act: (db: ReturnType<typeof bossDb>) => Promise<unknown>) => {
    await client.query('BEGIN');
    await act(bossDb(client));
    const notes = await client.query('DELETE FROM pgboss_changes WHERE job_id = $1', [id]);
    await client.query('COMMIT');
    expect(notes.rowCount).to.be.greaterThan(0);
  };
  const bossRow = async (id: string) =>
    (await t.sql.query('SELECT state::text FROM pgboss.job WHERE name = $1 AND id = $2', [QUEUE, id])).rows;

  it('cancel of a pending job deleted through pg-boss recreates its row as cancelled', async () => {
    const a = await create();
    await behindOurBack(a.id, (db) => boss.deleteJob(QUEUE, a.id, { db }));
    expect(await bossRow(a.id)).to.deep.equal([]);
    const cancelled = await api.cancel(a.id);
    expect(cancelled.status).to.equal('cancelled');
    expect(await bossRow(a.id)).to.deep.equal([{ state: 'cancelled' }]);
  });

  it('retry of a failed job deleted through pg-boss recreates its row, and the job is claimable', async () => {
    const a = await create({ max_attempts: 1 });
    const job = await claim();
    await api.fail(a.id, { lease_token: job.lease_token, category: 'invalid_input', message: 'no' });
    await behindOurBack(a.id, (db) => boss.deleteJob(QUEUE, a.id, { db }));
    const retried = await api.retry(a.id);
    expect(retried.status).to.equal('pending');
    expect(await bossRow(a.id)).to.deep.equal([{ state: 'retry' }]);
    const again = await claim();
    expect(again.id).to.equal(a.id);
    await api.complete(a.id, { lease_token: again.lease_token, result: {} });
  });

  it('retry with reset of a failed job deleted through pg-boss recreates it as never claimed', async () => {
    const a = await create({ max_attempts: 1 });
    const job = await claim();
    await api.fail(a.id, { lease_token: job.lease_token, category: 'invalid_input', message: 'no' });
    await behindOurBack(a.id, (db) => boss.deleteJob(QUEUE, a.id, { db }));
    await api.retry(a.id, { reset_attempts: true });
    expect(await bossRow(a.id)).to.deep.equal([{ state: 'created' }]);
    await api.cancel(a.id);
  });

  it('cancel of a running job whose row pg-boss completed sets the row to cancelled', async () => {
    const a = await create();
    const job = await claim();
    await behindOurBack(a.id, (db) => boss.complete(QUEUE, a.id, { via: 'pg-boss' }, { db }));
    expect(await bossRow(a.id)).to.deep.equal([{ state: 'completed' }]);
    await api.cancel(a.id);
    expect(await bossRow(a.id)).to.deep.equal([{ state: 'cancelled' }]);
    // the revoked lease is refused, not 500
    await api.complete(a.id, { lease_token: job.lease_token, result: {} }, 409);
  });

  it('retry of a running job cancelled through pg-boss puts it back in the queue', async () => {
    const a = await create();
    await claim();
    await behindOurBack(a.id, (db) => boss.cancel(QUEUE, a.id, { db }));
    const retried = await api.retry(a.id);
    expect(retried.status).to.equal('pending');
    expect(await bossRow(a.id)).to.deep.equal([{ state: 'retry' }]);
    await api.cancel(a.id);
  });

  it('retry of a running job deleted through pg-boss recreates its row', async () => {
    const a = await create();
    await claim();
    await behindOurBack(a.id, (db) => boss.deleteJob(QUEUE, a.id, { db }));
    await api.retry(a.id);
    expect(await bossRow(a.id)).to.deep.equal([{ state: 'retry' }]);
    await api.cancel(a.id);
  });

  it('cancel and retry of a cancelled job deleted through pg-boss are 409; the adoption pass restores its row', async () => {
    const a = await create();
    await api.cancel(a.id);
    await behindOurBack(a.id, (db) => boss.deleteJob(QUEUE, a.id, { db }));
    await api.cancel(a.id, 409);
    await api.retry(a.id, {}, 409);
    await t.sql.query('INSERT INTO pgboss_changes (queue, job_id) VALUES ($1, $2)', [QUEUE, a.id]);
    await waitUntil(async () => (await bossRow(a.id)).length === 1, { what: 'the adoption pass to recreate the row' });
    expect(await bossRow(a.id)).to.deep.equal([{ state: 'cancelled' }]);
  });
});
