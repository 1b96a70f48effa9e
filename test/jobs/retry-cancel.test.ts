import { expect } from 'chai';
import { jobBody, useService } from '../support/service.ts';
import { attemptRows, bossRow, expectProblem, jobRow, RESULT } from './helpers.ts';
import { expectConsistent } from '../support/consistency.ts';

let profileCounter = 0;

describe('retry and cancel', () => {
  const { t, api } = useService({ REAPER_INTERVAL: '1h' });

  async function pending(overrides: Record<string, unknown> = {}) {
    return api.create(jobBody({ model_profile: `rc-p${++profileCounter}`, ...overrides }));
  }
  async function claim(job: any, worker = 'w1') {
    const { jobs } = await api.claim({ worker_id: worker, model_profiles: [job.model_profile] });
    expect(jobs.map((j: any) => j.id)).to.deep.equal([job.id]);
    return jobs[0];
  }
  async function failed(overrides: Record<string, unknown> = {}) {
    const job = await pending({ max_attempts: 1, ...overrides });
    const c = await claim(job);
    return api.fail(job.id, { lease_token: c.lease_token, category: 'provider_error', message: 'boom' });
  }
  async function completed() {
    const job = await pending();
    const c = await claim(job);
    return api.complete(job.id, { lease_token: c.lease_token, result: RESULT });
  }
  async function cancelled() {
    const job = await pending();
    return api.cancel(job.id);
  }

  describe('retry', () => {
    it('returns a failed job to pending with one more attempt, keeping its error', async () => {
      const job = await failed();
      expect(job).to.include({ status: 'failed', attempts: 1, max_attempts: 1 });
      const retried = await api.retry(job.id);
      expect(retried).to.include({ status: 'pending', attempts: 1, max_attempts: 2, finished_at: null });
      expect(retried.error).to.deep.equal({ category: 'provider_error', message: 'boom' });
      expect(await bossRow(t.sql, job.id)).to.include({ state: 'retry', retry_limit: 1 });
      await expectConsistent(t.sql);
      const again = await claim(job, 'w2');
      expect(again.attempt).to.equal(2);
      await api.complete(job.id, { lease_token: again.lease_token, result: RESULT });
      await expectConsistent(t.sql);
    });

    it('takes a retry without a body as one with the defaults (no reset, no delay)', async () => {
      const job = await failed();
      const res = await t.api.post(`/api/v1/jobs/${job.id}/retry`).expect(200);
      expect(res.body).to.include({ status: 'pending', attempts: 1, max_attempts: 2 });
      expect(Date.parse(res.body.run_after)).to.be.at.most(Date.now() + 1000);
      await expectConsistent(t.sql);
    });

    it('resets attempts with reset_attempts, so the next claim is attempt 1 again', async () => {
      const job = await failed({ max_attempts: 1 });
      const retried = await api.retry(job.id, { reset_attempts: true });
      expect(retried).to.include({ status: 'pending', attempts: 0, max_attempts: 1 });
      const again = await claim(job, 'w2');
      expect(again.attempt).to.equal(1);
      expect(await bossRow(t.sql, job.id)).to.include({ state: 'active', retry_count: 0 });
      const history = await api.get(job.id);
      expect(history.attempts_history.map((a: any) => [a.attempt, a.outcome])).to.deep.equal([
        [1, 'failed'],
        [1, null],
      ]);
      await api.complete(job.id, { lease_token: again.lease_token, result: RESULT });
      await expectConsistent(t.sql);
    });

    it('delays the retry by delay_seconds', async () => {
      const job = await failed();
      const retried = await api.retry(job.id, { delay_seconds: 600 });
      expect(Date.parse(retried.run_after) - Date.parse(retried.updated_at)).to.equal(600_000);
      expect(await api.claim({ worker_id: 'w', model_profiles: [job.model_profile] })).to.deep.equal({ jobs: [] });
      expect((await bossRow(t.sql, job.id)).start_after).to.equal(retried.run_after);
    });

    it("revokes a running job's lease: the old worker gets 409 and changes nothing", async () => {
      const job = await pending();
      const c = await claim(job);
      const retried = await api.retry(job.id);
      expect(retried).to.include({ status: 'pending', attempts: 1, lease_expires_at: null });
      expect((await attemptRows(t.sql, job.id))[0].outcome).to.equal('revoked');
      const before = await jobRow(t.sql, job.id);
      expectProblem(await api.heartbeat(job.id, { lease_token: c.lease_token }, 409), 'lease_lost');
      expectProblem(await api.complete(job.id, { lease_token: c.lease_token, result: RESULT }, 409), 'lease_lost');
      expectProblem(await api.fail(job.id, { lease_token: c.lease_token, category: 'timeout', message: 'x' }, 409), 'lease_lost');
      expect(await jobRow(t.sql, job.id)).to.deep.equal(before);
      await expectConsistent(t.sql);
      expect((await claim(job, 'w2')).attempt).to.equal(2);
    });

    it('gives a running job on its last attempt one more', async () => {
      const job = await pending({ max_attempts: 1 });
      await claim(job);
      expect(await api.retry(job.id)).to.include({ status: 'pending', attempts: 1, max_attempts: 2 });
      await expectConsistent(t.sql);
    });

    it('rejects pending, completed and cancelled jobs with 409 invalid_state, changing nothing', async () => {
      for (const job of [await pending(), await completed(), await cancelled()]) {
        const before = await jobRow(t.sql, job.id);
        expectProblem(await api.retry(job.id, {}, 409), 'invalid_state');
        expect(await jobRow(t.sql, job.id)).to.deep.equal(before);
      }
      expectProblem(await api.retry(crypto.randomUUID(), {}, 404), 'not_found');
      expectProblem(await api.retry('not-a-uuid', {}, 400), 'validation_failed');
      const job = await failed();
      expectProblem(await api.retry(job.id, { delay_seconds: -1 }, 400), 'validation_failed');
      expectProblem(await api.retry(job.id, { reset: true }, 400), 'validation_failed');
    });
  });

  describe('cancel', () => {
    it('cancels a pending job in both stores', async () => {
      const job = await pending();
      const c = await api.cancel(job.id);
      expect(c).to.include({ status: 'cancelled' });
      expect(c.finished_at).to.be.a('string');
      expect(await bossRow(t.sql, job.id)).to.include({ state: 'cancelled' });
      expect(await api.claim({ worker_id: 'w', model_profiles: [job.model_profile] })).to.deep.equal({ jobs: [] });
      await expectConsistent(t.sql);
    });

    it("cancels a running job and revokes the worker's lease", async () => {
      const job = await pending();
      const c = await claim(job);
      expect(await api.cancel(job.id)).to.include({ status: 'cancelled', lease_expires_at: null });
      expect((await attemptRows(t.sql, job.id))[0].outcome).to.equal('cancelled');
      expectProblem(await api.complete(job.id, { lease_token: c.lease_token, result: RESULT }, 409), 'lease_lost');
      expectProblem(await api.heartbeat(job.id, { lease_token: c.lease_token }, 409), 'lease_lost');
      expect((await jobRow(t.sql, job.id)).status).to.equal('cancelled');
      await expectConsistent(t.sql);
    });

    it('rejects completed, failed and cancelled jobs with 409 invalid_state', async () => {
      for (const job of [await completed(), await failed(), await cancelled()]) {
        const before = await jobRow(t.sql, job.id);
        expectProblem(await api.cancel(job.id, 409), 'invalid_state');
        expect(await jobRow(t.sql, job.id)).to.deep.equal(before);
      }
      expectProblem(await api.cancel(crypto.randomUUID(), 404), 'not_found');
    });

    it('accepts the empty object as body and rejects any field or another media type, changing nothing', async () => {
      const job = await pending();
      const withField = await t.api.post(`/api/v1/jobs/${job.id}/cancel`).send({ reason: 'x' });
      expect(withField.status).to.equal(400);
      expect(withField.type).to.equal('application/problem+json');
      const asText = await t.api.post(`/api/v1/jobs/${job.id}/cancel`).type('text/plain').send('{}');
      expect(asText.status).to.equal(415);
      expect((await jobRow(t.sql, job.id)).status).to.equal('pending');
      const empty = await t.api.post(`/api/v1/jobs/${job.id}/cancel`).send({});
      expect(empty.status).to.equal(200);
      expect(empty.body).to.include({ status: 'cancelled' });
      await expectConsistent(t.sql);
    });
  });
});
