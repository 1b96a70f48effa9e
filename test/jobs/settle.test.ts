import { expect } from 'chai';
import { jobBody, useService } from '../support/service.ts';
import { attemptRows, bossRow, expectProblem, expireLease, jobRow, RESULT, reap } from './helpers.ts';
import { expectConsistent } from '../support/consistency.ts';
import { waitUntil } from '../support/wait.ts';

let profileCounter = 0;

describe('heartbeat, complete and fail', () => {
  // the background reaper stays out of the way; tests that need it call it
  const { t, api } = useService({ REAPER_INTERVAL: '1h' });

  /** A fresh job claimed by `worker`; returns the claimed job. */
  async function running(overrides: Record<string, unknown> = {}, worker = 'w1', leaseSeconds = 60) {
    const profile = `settle-p${++profileCounter}`;
    await api.create(jobBody({ model_profile: profile, ...overrides }));
    const { jobs } = await api.claim({ worker_id: worker, model_profiles: [profile], lease_seconds: leaseSeconds });
    expect(jobs).to.have.length(1);
    return jobs[0];
  }

  async function reclaim(job: any, worker = 'w2') {
    const { jobs } = await api.claim({ worker_id: worker, model_profiles: [job.model_profile] });
    expect(jobs.map((j: any) => j.id)).to.deep.equal([job.id]);
    return jobs[0];
  }

  describe('heartbeat', () => {
    it('extends the lease by the claimed lease length, or by lease_seconds', async () => {
      const job = await running({}, 'w1', 30);
      const hb = await api.heartbeat(job.id, { lease_token: job.lease_token });
      expect(hb.id).to.equal(job.id);
      expect(Date.parse(hb.lease_expires_at) - Date.now()).to.be.within(25_000, 31_000);
      const longer = await api.heartbeat(job.id, { lease_token: job.lease_token, lease_seconds: 3600 });
      expect(Date.parse(longer.lease_expires_at) - Date.now()).to.be.within(3_590_000, 3_601_000);
      expect((await api.get(job.id)).lease_expires_at).to.equal(longer.lease_expires_at);
      await expectConsistent(t.sql);
    });

    it('keeps pg-boss from expiring a job that heartbeats for longer than its backstop', async () => {
      const job = await running();
      // pretend the job started 30 hours ago: pg-boss's backstop (24 h from start) has passed
      await t.sql.query(`UPDATE pgboss.job SET started_on = now() - interval '30 hours' WHERE id = $1::uuid`, [job.id]);
      await api.heartbeat(job.id, { lease_token: job.lease_token, lease_seconds: 600 });
      const boss = await bossRow(t.sql, job.id);
      const backstopEnd = Date.parse(boss.started_on) + boss.expire_seconds * 1000;
      expect(backstopEnd - Date.now()).to.be.greaterThan(86_400_000);
    });

    it('rejects a wrong token or an expired lease with 409 lease_lost and changes nothing', async () => {
      const job = await running();
      const before = await jobRow(t.sql, job.id);
      expectProblem(await api.heartbeat(job.id, { lease_token: crypto.randomUUID() }, 409), 'lease_lost');
      await expireLease(t.sql, job.id);
      const expired = await jobRow(t.sql, job.id);
      expectProblem(await api.heartbeat(job.id, { lease_token: job.lease_token }, 409), 'lease_lost');
      expect(await jobRow(t.sql, job.id)).to.deep.equal(expired);
      expect(expired.updated_at).to.equal(before.updated_at);
    });

    it('answers 404 for an unknown job and 400 for a malformed token or lease_seconds', async () => {
      expectProblem(await api.heartbeat(crypto.randomUUID(), { lease_token: crypto.randomUUID() }, 404), 'not_found');
      const job = await running();
      expectProblem(await api.heartbeat(job.id, { lease_token: 'nope' }, 400), 'validation_failed');
      expectProblem(await api.heartbeat(job.id, { lease_token: job.lease_token, lease_seconds: 0 }, 400), 'validation_failed');
      expectProblem(await api.heartbeat(job.id, { lease_token: job.lease_token, lease_seconds: 43201 }, 400), 'validation_failed');
    });
  });

  describe('complete', () => {
    it('stores the result and marks both stores completed', async () => {
      const job = await running();
      const done = await api.complete(job.id, { lease_token: job.lease_token, result: RESULT });
      expect(done).to.include({ id: job.id, status: 'completed', lease_expires_at: null, error: null });
      expect(done.result).to.deep.equal(RESULT);
      expect(done.finished_at).to.be.a('string');
      expect(await bossRow(t.sql, job.id)).to.include({ state: 'completed' });
      expect((await attemptRows(t.sql, job.id))[0].outcome).to.equal('completed');
      await expectConsistent(t.sql);
    });

    it('answers a repeated complete with the same token with 200 and the same job', async () => {
      const job = await running();
      const done = await api.complete(job.id, { lease_token: job.lease_token, result: RESULT });
      const again = await api.complete(job.id, { lease_token: job.lease_token, result: RESULT });
      expect(again).to.deep.equal(done);
      expect(await attemptRows(t.sql, job.id)).to.have.length(1);
    });

    it('rejects a stale token with 409 lease_lost and keeps the newer attempt', async () => {
      const job = await running();
      await expireLease(t.sql, job.id);
      expectProblem(await api.complete(job.id, { lease_token: job.lease_token, result: RESULT }, 409), 'lease_lost');
      expect((await jobRow(t.sql, job.id)).status).to.equal('running');
      await reap(t);
      const second = await reclaim(job);
      expect(second.attempt).to.equal(2);
      const before = await jobRow(t.sql, job.id);
      expectProblem(await api.complete(job.id, { lease_token: job.lease_token, result: { stale: true } }, 409), 'lease_lost');
      expectProblem(await api.fail(job.id, { lease_token: job.lease_token, category: 'internal', message: 'x' }, 409), 'lease_lost');
      expectProblem(await api.heartbeat(job.id, { lease_token: job.lease_token }, 409), 'lease_lost');
      expect(await jobRow(t.sql, job.id)).to.deep.equal(before);
      const done = await api.complete(job.id, { lease_token: second.lease_token, result: RESULT });
      expect(done.result).to.deep.equal(RESULT);
      await expectConsistent(t.sql);
    });

    it('rejects a complete after fail with the same token (409), and a result that is not an object (400)', async () => {
      const job = await running({ max_attempts: 1 });
      await api.fail(job.id, { lease_token: job.lease_token, category: 'timeout', message: 'too slow' });
      expectProblem(await api.complete(job.id, { lease_token: job.lease_token, result: RESULT }, 409), 'lease_lost');
      const other = await running();
      expectProblem(await api.complete(other.id, { lease_token: other.lease_token, result: [1] }, 400), 'validation_failed');
      expectProblem(await api.complete(other.id, { lease_token: other.lease_token }, 400), 'validation_failed');
      expectProblem(await api.complete(crypto.randomUUID(), { lease_token: other.lease_token, result: {} }, 404), 'not_found');
    });
  });

  describe('fail', () => {
    it('returns a retryable failure to pending after a backoff, keeping the error', async () => {
      const job = await running();
      // provider_error counts as an attempt (provider_unavailable would be deferred: test/outage/)
      const failed = await api.fail(job.id, {
        lease_token: job.lease_token,
        category: 'provider_error',
        message: 'vLLM answered 500',
      });
      expect(failed).to.include({ status: 'pending', attempts: 1, lease_expires_at: null, finished_at: null });
      expect(failed.error).to.deep.equal({ category: 'provider_error', message: 'vLLM answered 500' });
      expect(Date.parse(failed.run_after)).to.be.greaterThan(Date.parse(failed.updated_at));
      const boss = await bossRow(t.sql, job.id);
      expect(boss).to.include({ state: 'retry', start_after: failed.run_after });
      expect((await attemptRows(t.sql, job.id))[0]).to.include({ outcome: 'retried' });
      await expectConsistent(t.sql);
      // claimable again once the backoff has passed, as attempt 2, error still shown
      const second = await waitUntil(
        async () => {
          const { jobs } = await api.claim({ worker_id: 'w2', model_profiles: [job.model_profile] });
          return jobs[0];
        },
        { what: 'the retry to become claimable' },
      );
      expect(second).to.include({ id: job.id, attempt: 2 });
      expect(await bossRow(t.sql, job.id)).to.include({ state: 'active', retry_count: 1 });
    });

    it('honours retry_after_seconds', async () => {
      const job = await running();
      const failed = await api.fail(job.id, {
        lease_token: job.lease_token,
        category: 'rate_limited',
        message: 'slow down',
        retry_after_seconds: 120,
      });
      expect(Date.parse(failed.run_after) - Date.parse(failed.updated_at)).to.be.within(119_000, 121_000);
      expect((await api.claim({ worker_id: 'w', model_profiles: [job.model_profile] })).jobs).to.deep.equal([]);
    });

    it('backs off exponentially with jitter between the configured bounds', async () => {
      // test backoff: base 50 ms, max 200 ms; delay = min(max, base * 2^(attempt-1)) * [0.5, 1)
      const job = await running({ max_attempts: 10 });
      let token = job.lease_token;
      const delays: number[] = [];
      for (let attempt = 1; attempt <= 4; attempt++) {
        const f = await api.fail(job.id, { lease_token: token, category: 'timeout', message: `attempt ${attempt}` });
        delays.push(Date.parse(f.run_after) - Date.parse(f.updated_at));
        token = (
          await waitUntil(async () => (await api.claim({ worker_id: 'w', model_profiles: [job.model_profile] })).jobs[0], { what: 'retry' })
        ).lease_token;
      }
      const caps = [50, 100, 200, 200];
      for (const [i, d] of delays.entries()) expect(d, `delay ${i + 1}`).to.be.within(caps[i] / 2 - 1, caps[i] + 1);
    });

    it('fails invalid_input at once (not retryable by default), and honours retryable', async () => {
      const job = await running();
      const failed = await api.fail(job.id, { lease_token: job.lease_token, category: 'invalid_input', message: 'no audio' });
      expect(failed).to.include({ status: 'failed', attempts: 1 });
      expect(failed.finished_at).to.be.a('string');
      expect(await bossRow(t.sql, job.id)).to.include({ state: 'failed' });
      const other = await running();
      const forced = await api.fail(other.id, { lease_token: other.lease_token, category: 'internal', message: 'x', retryable: false });
      expect(forced.status).to.equal('failed');
      const retried = await running();
      const again = await api.fail(retried.id, {
        lease_token: retried.lease_token,
        category: 'invalid_input',
        message: 'x',
        retryable: true,
      });
      expect(again.status).to.equal('pending');
      await expectConsistent(t.sql);
    });

    it('fails the job when attempts are exhausted', async () => {
      const job = await running({ max_attempts: 2 });
      await api.fail(job.id, { lease_token: job.lease_token, category: 'timeout', message: 'first' });
      const second = await waitUntil(async () => (await api.claim({ worker_id: 'w', model_profiles: [job.model_profile] })).jobs[0], {
        what: 'retry',
      });
      const last = await api.fail(job.id, { lease_token: second.lease_token, category: 'timeout', message: 'second' });
      expect(last).to.include({ status: 'failed', attempts: 2, max_attempts: 2 });
      expect(last.error).to.deep.equal({ category: 'timeout', message: 'second' });
      expect(await bossRow(t.sql, job.id)).to.include({ state: 'failed' });
      await expectConsistent(t.sql);
    });

    it('stores at most 4000 characters of the message, cleaning what PostgreSQL cannot store', async () => {
      const job = await running({ max_attempts: 1 });
      const message = `${'m'.repeat(3999)}😀 and more`;
      const failed = await api.fail(job.id, { lease_token: job.lease_token, category: 'provider_error', message });
      expect(failed.error.message).to.equal('m'.repeat(3999)); // the emoji's pair would be split: dropped
      const other = await running({ max_attempts: 1 });
      const nul = await api.fail(other.id, { lease_token: other.lease_token, category: 'provider_error', message: 'bad\u0000byte' });
      expect(nul.error.message).to.equal('bad\uFFFDbyte');
      const long = await running({ max_attempts: 1 });
      const cut = await api.fail(long.id, { lease_token: long.lease_token, category: 'provider_error', message: 'x'.repeat(100_000) });
      expect(cut.error.message).to.have.length(4000);
    });

    it('answers a repeated fail with the same token with 200, and rejects bad bodies with 400', async () => {
      const job = await running({ max_attempts: 1 });
      const body = { lease_token: job.lease_token, category: 'timeout', message: 'too slow' };
      const first = await api.fail(job.id, body);
      expect(await api.fail(job.id, body)).to.deep.equal(first);
      const other = await running();
      for (const bad of [
        { lease_token: other.lease_token, message: 'no category' },
        { lease_token: other.lease_token, category: 'Not A Slug', message: 'x' },
        { lease_token: other.lease_token, category: 'timeout', message: 'x', retry_after_seconds: -1 },
        { lease_token: other.lease_token, category: 'timeout', message: 'x', colour: 'red' },
      ]) {
        expectProblem(await api.fail(other.id, bad, 400), 'validation_failed');
      }
      expect((await jobRow(t.sql, other.id)).status).to.equal('running');
    });
  });
});
