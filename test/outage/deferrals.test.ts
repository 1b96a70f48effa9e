// Failures that are not the job's fault: a retryable failure in an infrastructure
// category gives the attempt back (a deferral) until max_deferrals is reached;
// lease_expired and other categories count as attempts; both stores stay consistent.
import { expect } from 'chai';
import { attemptRows, bossRow, claimBody, expireLease, jobRow, reap } from '../jobs/helpers.ts';
import { expectConsistent } from '../support/consistency.ts';
import { jobBody, useService } from '../support/service.ts';

describe('deferrals: infrastructure failures cost no attempts', () => {
  const { t, api } = useService({ REAPER_INTERVAL: '1h', RETRY_BACKOFF_BASE: '1ms', RETRY_BACKOFF_MAX: '1ms' });
  let n = 0;
  const profile = () => `defer-${++n}`;

  async function claimOne(model_profile: string) {
    const { jobs } = await api.claim(claimBody({ model_profiles: [model_profile], worker_id: 'gpu-1' }));
    expect(jobs).to.have.length(1);
    return jobs[0] as { id: string; lease_token: string; attempt: number };
  }

  async function failWith(model_profile: string, category: string, extra: Record<string, unknown> = {}) {
    const c = await claimOne(model_profile);
    const job = await api.fail(c.id, { lease_token: c.lease_token, category, message: 'down', ...extra });
    return { claimed: c, job };
  }

  it('provider_unavailable, rate_limited and worker_shutdown defer: attempts unchanged, deferrals +1, history says deferred', async () => {
    const p = profile();
    const created = await api.create(jobBody({ model_profile: p, max_attempts: 1 }));
    expect(created).to.include({ deferrals: 0, max_deferrals: 50, start_before: null });
    for (const [i, category] of ['provider_unavailable', 'rate_limited', 'worker_shutdown'].entries()) {
      const { claimed, job } = await failWith(p, category, { retry_after_seconds: 0 });
      expect(claimed.attempt).to.equal(1);
      expect(job).to.include({ status: 'pending', attempts: 0, deferrals: i + 1 });
      expect(await bossRow(t.sql, job.id)).to.include({ state: 'retry' });
      await expectConsistent(t.sql);
    }
    const last = await claimOne(p);
    expect(last.attempt).to.equal(1);
    expect(await bossRow(t.sql, last.id)).to.include({ state: 'active', retry_count: 0 });
    await expectConsistent(t.sql);
    const done = await api.complete(last.id, { lease_token: last.lease_token, result: {} });
    expect(done).to.include({ status: 'completed', attempts: 1, deferrals: 3 });
    const got = await api.get(last.id);
    expect(got.attempts_history.map((a: { outcome: string }) => a.outcome)).to.deep.equal([
      'deferred',
      'deferred',
      'deferred',
      'completed',
    ]);
    await expectConsistent(t.sql);
  });

  it('a deferred job waits the service backoff unless retry_after_seconds is given', async () => {
    const p = profile();
    await api.create(jobBody({ model_profile: p }));
    const { job } = await failWith(p, 'rate_limited', { retry_after_seconds: 120 });
    expect(Date.parse(job.run_after) - Date.now()).to.be.greaterThan(100_000);
    expect((await api.claim(claimBody({ model_profiles: [p] }))).jobs).to.have.length(0);
    await expectConsistent(t.sql);
  });

  it('past max_deferrals the failure counts as an attempt', async () => {
    const p = profile();
    await api.create(jobBody({ model_profile: p, max_attempts: 2, max_deferrals: 1 }));
    const first = await failWith(p, 'provider_unavailable', { retry_after_seconds: 0 });
    expect(first.job).to.include({ status: 'pending', attempts: 0, deferrals: 1 });
    const second = await failWith(p, 'provider_unavailable', { retry_after_seconds: 0 });
    expect(second.job).to.include({ status: 'pending', attempts: 1, deferrals: 1 });
    const third = await failWith(p, 'provider_unavailable', { retry_after_seconds: 0 });
    expect(third.job).to.include({ status: 'failed', attempts: 2, deferrals: 1 });
    const outcomes = (await attemptRows(t.sql, third.job.id)).map((a) => a.outcome);
    expect(outcomes).to.deep.equal(['deferred', 'retried', 'failed']);
    await expectConsistent(t.sql);
  });

  it('max_deferrals 0 makes every failure count; a non-retryable infrastructure failure counts', async () => {
    const p = profile();
    await api.create(jobBody({ model_profile: p, max_attempts: 1, max_deferrals: 0 }));
    expect((await failWith(p, 'provider_unavailable')).job).to.include({ status: 'failed', attempts: 1, deferrals: 0 });
    await api.create(jobBody({ model_profile: p, max_attempts: 1 }));
    expect((await failWith(p, 'rate_limited', { retryable: false })).job).to.include({ status: 'failed', attempts: 1, deferrals: 0 });
    await expectConsistent(t.sql);
  });

  it('other categories and lease_expired still count', async () => {
    const p = profile();
    await api.create(jobBody({ model_profile: p, max_attempts: 2 }));
    const { job } = await failWith(p, 'provider_error', { retry_after_seconds: 0 });
    expect(job).to.include({ status: 'pending', attempts: 1, deferrals: 0 });
    const c = await claimOne(p);
    await expireLease(t.sql, c.id);
    await reap(t);
    expect(await jobRow(t.sql, c.id)).to.include({ status: 'failed', attempts: 2, deferrals: 0 });
    await expectConsistent(t.sql);
  });

  it('a repeated deferral by the same lease is a replay, not a second deferral', async () => {
    const p = profile();
    await api.create(jobBody({ model_profile: p }));
    const { claimed } = await failWith(p, 'worker_shutdown', { retry_after_seconds: 0 });
    const again = await api.fail(claimed.id, { lease_token: claimed.lease_token, category: 'worker_shutdown', message: 'down' });
    expect(again).to.include({ status: 'pending', attempts: 0, deferrals: 1 });
  });

  it('max_deferrals outside 0-1000 is 400 naming the field', async () => {
    const res = await t.api.post('/api/v1/jobs').send(jobBody({ max_deferrals: 1001 }));
    expect(res.status).to.equal(400);
    expect(JSON.stringify(res.body.errors)).to.contain('max_deferrals');
  });

  it('a batch item without max_deferrals takes the batch default', async () => {
    const { jobs } = await api.batch({ defaults: { max_deferrals: 7 }, jobs: [jobBody(), jobBody({ max_deferrals: 3 })] });
    expect(jobs.map((j: { max_deferrals: number }) => j.max_deferrals)).to.deep.equal([7, 3]);
  });

  it('/stats and /metrics count deferrals per queue and category', async () => {
    const p = profile();
    await api.create(jobBody({ model_profile: p }));
    await failWith(p, 'rate_limited', { retry_after_seconds: 0 });
    const queue = `call_analysis/${p}`;
    const stats = await api.stats();
    expect(stats.deferrals.by_queue).to.deep.include({
      queue,
      task_type: 'call_analysis',
      model_profile: p,
      category: 'rate_limited',
      total: 1,
      last_hour: 1,
    });
    const metrics = await t.api.get('/metrics');
    expect(metrics.text).to.match(
      new RegExp(`ai_service_jobs_deferred_total\\{[^}]*model_profile="${p}"[^}]*category="rate_limited"[^}]*\\} 1`),
    );
  });
});
