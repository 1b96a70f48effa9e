import { expect } from 'chai';
import { jobBody, useService } from '../support/service.ts';
import { bossRow, claimBody, expectProblem } from './helpers.ts';
import { expectConsistent } from '../support/consistency.ts';
import { given } from '../support/factory.ts';

describe('creating jobs', () => {
  const { t, api } = useService();

  describe('POST /jobs', () => {
    it('returns 201 with Location and the pending job, written to both stores', async () => {
      const res = await t.api.post('/api/v1/jobs').send(jobBody({ priority: 5, max_attempts: 4 }));
      expect(res.status).to.equal(201);
      expect(res.headers.location).to.equal(`/api/v1/jobs/${res.body.id}`);
      const job = res.body;
      expect(job).to.include({ status: 'pending', priority: 5, attempts: 0, max_attempts: 4, result: null, error: null });
      expect(job.input).to.deep.equal({ prompt: 'Summarise the call.' });
      const boss = await bossRow(t.sql, job.id);
      expect(boss).to.include({ state: 'created', retry_count: 0, retry_limit: 3 });
      expect(boss.start_after).to.equal(job.run_after);
      const got = await api.get(job.id);
      expect(got.id).to.equal(job.id);
      await expectConsistent(t.sql);
    });

    it('creates the pg-boss queue <task_type>/<model_profile> on first use', async () => {
      await api.create(jobBody({ task_type: 'pf_competitor_analysis', model_profile: 'monitoring-tg' }));
      const { rows } = await t.sql.query(`SELECT name FROM pgboss.queue WHERE name = 'pf_competitor_analysis/monitoring-tg'`);
      expect(rows).to.have.length(1);
    });

    it('defaults priority to 0 and max_attempts to 3', async () => {
      const job = await api.create(jobBody());
      expect(job).to.include({ priority: 0, max_attempts: 3, idempotency_key: null });
    });

    it('delays the first claim until run_after', async () => {
      const runAfter = new Date(Date.now() + 3_600_000).toISOString();
      const job = await api.create(jobBody({ model_profile: 'delayed-profile', run_after: runAfter }));
      expect(job.run_after).to.equal(runAfter);
      expect((await bossRow(t.sql, job.id)).start_after).to.equal(runAfter);
      const none = await api.claim(claimBody({ model_profiles: ['delayed-profile'] }));
      expect(none.jobs).to.deep.equal([]);
      // once the time has come it is claimable
      await t.sql.query(`UPDATE jobs SET run_after = now() WHERE id = $1::uuid`, [job.id]);
      const some = await api.claim(claimBody({ model_profiles: ['delayed-profile'] }));
      expect(some.jobs.map((j: any) => j.id)).to.deep.equal([job.id]);
    });
  });

  describe('idempotency keys', () => {
    it('replays the same request with 200 and the original job', async () => {
      const body = jobBody({ idempotency_key: 'call-8812-analysis' });
      const first = await api.create(body, 201);
      const res = await t.api.post('/api/v1/jobs').send(body);
      expect(res.status).to.equal(200);
      expect(res.headers.location).to.equal(`/api/v1/jobs/${first.id}`);
      expect(res.body).to.deep.equal(first);
      const { rows } = await t.sql.query(`SELECT count(*)::int AS n FROM jobs WHERE idempotency_key = 'call-8812-analysis'`);
      expect(rows[0].n).to.equal(1);
    });

    it('treats omitted defaults and explicit defaults as the same request', async () => {
      const body = jobBody({ idempotency_key: 'defaults-equal' });
      const first = await api.create(body, 201);
      const again = await api.create({ ...body, priority: 0, max_attempts: 3 }, 200);
      expect(again.id).to.equal(first.id);
    });

    it('rejects the same key with different content: 409 idempotency_conflict, nothing written', async () => {
      const body = jobBody({ idempotency_key: 'conflicting' });
      await api.create(body, 201);
      const err = await api.create({ ...body, input: { prompt: 'Something else' } }, 409);
      expectProblem(err, 'idempotency_conflict');
      const { rows } = await t.sql.query(`SELECT count(*)::int AS n FROM jobs WHERE idempotency_key = 'conflicting'`);
      expect(rows[0].n).to.equal(1);
    });

    it('scopes keys per owner_service', async () => {
      const a = await api.create(jobBody({ owner_service: 'svc-a', idempotency_key: 'shared-key' }), 201);
      const b = await api.create(jobBody({ owner_service: 'svc-b', idempotency_key: 'shared-key' }), 201);
      expect(a.id).to.not.equal(b.id);
    });

    it('holds a key whoever wrote its job: the API cannot reuse a key a job written by SQL holds, nor SQL one the API holds', async () => {
      // job_keys holds the keys (migration 015); the insert trigger fills it for writers other than the API
      const bySql = await given.job(t, { owner_service: 'keys-sql', idempotency_key: 'by-sql' });
      // its request hash is null: the key is taken, and this request is not a replay of it
      expectProblem(await api.create(jobBody({ owner_service: 'keys-sql', idempotency_key: 'by-sql' }), 409), 'idempotency_conflict');
      const byApi = await api.create(jobBody({ owner_service: 'keys-sql', idempotency_key: 'by-api' }), 201);
      const err = await given.job(t, { owner_service: 'keys-sql', idempotency_key: 'by-api' }).catch((e) => e);
      expect(err).to.have.property('code', '23505');
      const { rows } = await t.sql.query(`SELECT id FROM jobs WHERE owner_service = 'keys-sql' ORDER BY id`);
      expect(rows.map((r) => r.id)).to.deep.equal([bySql.id, byApi.id]);
      await expectConsistent(t.sql);
    });

    it('replays even after the job moved on, returning its current state', async () => {
      const body = jobBody({ model_profile: 'replay-moved', idempotency_key: 'moved-on' });
      const first = await api.create(body, 201);
      await api.claim(claimBody({ model_profiles: ['replay-moved'] }));
      const again = await api.create(body, 200);
      expect(again).to.include({ id: first.id, status: 'running', attempts: 1 });
    });
  });
});
