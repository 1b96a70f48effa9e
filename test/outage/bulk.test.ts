// Bulk recovery: POST /api/v1/jobs/bulk retries or cancels what a filter matches,
// each job as its single endpoint would change it, in chunks, with scope and role
// rules; the two stores stay consistent after each.
import { expect } from 'chai';
import { env, NAMES, OWNER_A, OWNER_B, TOKENS } from '../auth/fixtures.ts';
import { claimBody, jobRow } from '../jobs/helpers.ts';
import { expectConsistent } from '../support/consistency.ts';
import { seedJobs } from '../support/seed.ts';
import { jobBody, type TestService, useService } from '../support/service.ts';

const count = async (t: TestService, where: string, values: unknown[] = []) =>
  (await t.sql.query(`SELECT count(*)::int AS n FROM jobs WHERE ${where}`, values)).rows[0].n as number;

describe('bulk recovery', function () {
  this.timeout(120_000);
  const { t } = useService({ ...env(), REAPER_INTERVAL: '1h' });
  const as = (token: string) => ({
    bulk: (body: object) => t.api.post('/api/v1/jobs/bulk').set('Authorization', `Bearer ${token}`).send(body),
    create: async (body: object) => {
      const res = await t.api.post('/api/v1/jobs').set('Authorization', `Bearer ${token}`).send(body);
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      return res.body;
    },
  });
  const admin = () => as(TOKENS.admin);

  it('retries 5,000 failed jobs of one category while workers claim, each once', async () => {
    const p = 'bulk-retry';
    await admin().create(jobBody({ model_profile: p, owner_service: OWNER_A })); // creates the queue
    await seedJobs(t.sql, {
      queues: [{ task_type: 'call_analysis', model_profile: p }],
      count: 6000,
      status: 'failed',
      owner_service: OWNER_A,
    });
    await t.sql.query(
      `UPDATE jobs SET error = '{"category":"provider_unavailable","message":"down"}' WHERE id IN (
         SELECT id FROM jobs WHERE model_profile = $1 AND status = 'failed' ORDER BY id LIMIT 5000)`,
      [p],
    );
    await expectConsistent(t.sql);
    // workers claim and complete whatever becomes pending while the bulk retry runs
    let stop = false;
    let completed = 0;
    const worker = async (w: string) => {
      while (!stop) {
        const res = await t.api
          .post('/api/v1/jobs/claim')
          .set('Authorization', `Bearer ${TOKENS.admin}`)
          .send(claimBody({ worker_id: w, model_profiles: [p], limit: 50 }));
        expect(res.status).to.equal(200);
        for (const j of res.body.jobs) {
          const c = await t.api
            .post(`/api/v1/jobs/${j.id}/complete`)
            .set('Authorization', `Bearer ${TOKENS.admin}`)
            .send({ lease_token: j.lease_token, result: {} });
          expect(c.status).to.equal(200);
          completed++;
        }
      }
    };
    const workers = [worker('w1'), worker('w2')];
    const res = await admin().bulk({
      action: 'retry',
      filter: { status: ['failed'], model_profile: p, error_category: 'provider_unavailable' },
      limit: 100000,
    });
    stop = true;
    await Promise.all(workers);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body).to.deep.equal({ matched: 5000, changed: 5000, skipped: 0 });
    expect(completed).to.be.greaterThan(0);
    expect(await count(t, `model_profile = $1 AND error ->> 'category' = 'provider_error' AND status = 'failed'`, [p])).to.equal(1000);
    expect(await count(t, `model_profile = $1 AND status = 'failed' AND error ->> 'category' = 'provider_unavailable'`, [p])).to.equal(0);
    expect(await count(t, `model_profile = $1 AND attempts > 2`, [p])).to.equal(0);
    await expectConsistent(t.sql);
    expect(
      t.logs.some((l) => l.includes('"bulk action"') && l.includes(`"caller":"${NAMES.admin}"`) && l.includes('"changed":5000')),
    ).to.equal(true);
  });

  it('cancels every pending job of one owner_ref and nothing else; a dry run changes nothing', async () => {
    const p = 'bulk-cancel';
    const producer = as(TOKENS.producerA);
    const mine = [];
    for (let i = 0; i < 5; i++)
      mine.push(await producer.create(jobBody({ model_profile: p, owner_service: OWNER_A, owner_ref: 'order-77' })));
    const other = await producer.create(jobBody({ model_profile: p, owner_service: OWNER_A, owner_ref: 'order-78' }));
    const claim = await t.api
      .post('/api/v1/jobs/claim')
      .set('Authorization', `Bearer ${TOKENS.admin}`)
      .send(claimBody({ model_profiles: [p] }));
    const running = claim.body.jobs[0];
    expect(running.id).to.equal(mine[0].id);

    const dry = await producer.bulk({ action: 'cancel', filter: { status: ['pending'], owner_ref: 'order-77' }, dry_run: true });
    expect(dry.body).to.deep.equal({ matched: 4, changed: 0, skipped: 0 });
    expect(await count(t, `owner_ref = 'order-77' AND status = 'pending'`)).to.equal(4);

    const res = await producer.bulk({ action: 'cancel', filter: { status: ['pending'], owner_ref: 'order-77' } });
    expect(res.body).to.deep.equal({ matched: 4, changed: 4, skipped: 0 });
    expect(await count(t, `owner_ref = 'order-77' AND status = 'cancelled'`)).to.equal(4);
    expect(await jobRow(t.sql, running.id)).to.include({ status: 'running' });
    expect(await jobRow(t.sql, other.id)).to.include({ status: 'pending' });
    await expectConsistent(t.sql);
  });

  it('a retry of running jobs revokes their leases, as the single retry does', async () => {
    const p = 'bulk-running';
    for (let i = 0; i < 3; i++) await admin().create(jobBody({ model_profile: p }));
    const claim = await t.api
      .post('/api/v1/jobs/claim')
      .set('Authorization', `Bearer ${TOKENS.admin}`)
      .send(claimBody({ model_profiles: [p], limit: 3 }));
    const res = await admin().bulk({ action: 'retry', filter: { status: ['running'], model_profile: p } });
    expect(res.body).to.deep.equal({ matched: 3, changed: 3, skipped: 0 });
    const j = claim.body.jobs[0];
    const late = await t.api
      .post(`/api/v1/jobs/${j.id}/complete`)
      .set('Authorization', `Bearer ${TOKENS.admin}`)
      .send({ lease_token: j.lease_token, result: {} });
    expect(late.status).to.equal(409);
    await expectConsistent(t.sql);
  });

  it('scope and roles: producers on their own owner services, status-only filters for admins, workers 403', async () => {
    const p = 'bulk-scope';
    const b = await as(TOKENS.producerB).create(jobBody({ model_profile: p, owner_service: OWNER_B, owner_ref: 'b-1' }));
    const filter = { status: ['pending'], owner_ref: 'b-1' };
    expect((await as(TOKENS.worker).bulk({ action: 'cancel', filter })).status).to.equal(403);
    expect((await as(TOKENS.producerA).bulk({ action: 'cancel', filter: { status: ['pending'] } })).status).to.equal(403);
    expect((await as(TOKENS.producerA).bulk({ action: 'cancel', filter: { ...filter, owner_service: OWNER_B } })).status).to.equal(403);
    // another owner's jobs are not visible: nothing matches
    expect((await as(TOKENS.producerA).bulk({ action: 'cancel', filter })).body).to.deep.equal({ matched: 0, changed: 0, skipped: 0 });
    expect(await jobRow(t.sql, b.id)).to.include({ status: 'pending' });
    const dry = await admin().bulk({ action: 'cancel', filter: { status: ['pending'] }, dry_run: true });
    expect(dry.status).to.equal(200);
    expect(dry.body.matched).to.be.greaterThan(0);
    expect((await as(TOKENS.producerB).bulk({ action: 'cancel', filter })).body).to.deep.equal({ matched: 1, changed: 1, skipped: 0 });
    await expectConsistent(t.sql);
  });

  it('a bad filter is 400 naming the field', async () => {
    const cases: [object, string][] = [
      [{ action: 'retry', filter: { status: ['pending'] } }, '/body/filter/status/0'],
      [{ action: 'cancel', filter: { status: ['running', 'completed'] } }, '/body/filter/status/1'],
      [{ action: 'cancel', filter: { status: ['pending'], colour: 'red' } }, '/body/filter/colour'],
      [{ action: 'cancel', filter: { status: ['pending'], created_after: 'yesterday' } }, '/body/filter/created_after'],
      [{ action: 'cancel', filter: {} }, '/body/filter/status'],
      [{ action: 'cancel', filter: { status: ['pending'] }, limit: 100001 }, '/body/limit'],
      [{ action: 'purge', filter: { status: ['pending'] } }, '/body/action'],
    ];
    for (const [body, path] of cases) {
      const res = await admin().bulk(body);
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.headers['content-type']).to.match(/application\/problem\+json/);
      expect(
        res.body.errors.map((e: { path: string }) => e.path),
        JSON.stringify(res.body),
      ).to.include(path);
    }
  });
});
