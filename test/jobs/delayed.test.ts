// Delayed jobs (future run_after, retry backoff) are out of the claim index until
// due; the leader promotes them within PROMOTE_INTERVAL_MS of run_after, which
// wakes a waiting long-poll.
import { expect } from 'chai';
import { expectConsistent } from '../support/consistency.ts';
import { jobBody, useService } from '../support/service.ts';
import { waitFor } from '../support/wait.ts';

let n = 0;
const newProfile = () => `delayed-p${++n}`;

describe('delayed jobs', function () {
  this.timeout(30_000);
  const { t, api } = useService();

  const delayedFlag = async (id: string) => (await t.sql.query(`SELECT delayed FROM jobs WHERE id = $1`, [id])).rows[0].delayed;

  it('becomes claimable within 1 s of run_after and wakes a waiting long-poll', async () => {
    const profile = newProfile();
    const runAfter = new Date(Date.now() + 1500);
    const job = await api.create(jobBody({ model_profile: profile, run_after: runAfter.toISOString() }));
    expect(await delayedFlag(job.id)).to.equal(true);
    expect((await api.claim({ worker_id: 'w', model_profiles: [profile] })).jobs).to.deep.equal([]);
    const { jobs } = await api.claim({ worker_id: 'w', model_profiles: [profile], wait_seconds: 10 });
    const late = Date.now() - runAfter.getTime();
    expect(jobs.map((j: { id: string }) => j.id)).to.deep.equal([job.id]);
    expect(late).to.be.within(0, 1000);
    await expectConsistent(t.sql, { counters: true });
  });

  it('marks a job failed with backoff as delayed, and its pg-boss row stays `retry`', async () => {
    const profile = newProfile();
    await api.create(jobBody({ model_profile: profile }));
    const [c] = (await api.claim({ worker_id: 'w', model_profiles: [profile] })).jobs;
    await api.fail(c.id, { lease_token: c.lease_token, category: 'provider_unavailable', message: 'down', retry_after_seconds: 60 });
    expect(await delayedFlag(c.id)).to.equal(true);
    const { rows } = await t.sql.query(`SELECT state FROM pgboss.job WHERE id = $1`, [c.id]);
    expect(rows[0].state).to.equal('retry');
    expect((await api.claim({ worker_id: 'w', model_profiles: [profile] })).jobs).to.deep.equal([]);
    await expectConsistent(t.sql, { counters: true });
  });

  it('counts delayed jobs in /stats from the counters until promoted, and not once cancelled', async () => {
    const profile = newProfile();
    const queue = `call_analysis/${profile}`;
    const delayed = async () => {
      const q = (await api.stats()).queues.find((x: { queue: string }) => x.queue === queue);
      return { pending: q.pending, ready: q.ready, delayed: q.delayed };
    };
    const soon = await api.create(jobBody({ model_profile: profile, run_after: new Date(Date.now() + 1000).toISOString() }));
    const later = await api.create(jobBody({ model_profile: profile, run_after: new Date(Date.now() + 3_600_000).toISOString() }));
    await api.create(jobBody({ model_profile: profile }));
    expect(await delayed()).to.deep.equal({ pending: 3, ready: 1, delayed: 2 });
    await waitFor('the due job promoted', async () => !(await delayedFlag(soon.id)), 3000);
    expect(await delayed()).to.deep.equal({ pending: 3, ready: 2, delayed: 1 });
    await api.cancel(later.id);
    expect(await delayed()).to.deep.equal({ pending: 2, ready: 2, delayed: 0 });
    await expectConsistent(t.sql, { counters: true });
  });

  it('promotes a job retried with delay_seconds when due', async () => {
    const profile = newProfile();
    await api.create(jobBody({ model_profile: profile, max_attempts: 1 }));
    const [c] = (await api.claim({ worker_id: 'w', model_profiles: [profile] })).jobs;
    await api.fail(c.id, { lease_token: c.lease_token, category: 'provider_error', message: 'x' });
    await api.retry(c.id, { delay_seconds: 1 });
    expect(await delayedFlag(c.id)).to.equal(true);
    await waitFor('the retried job promoted', async () => !(await delayedFlag(c.id)), 3000);
    const { jobs } = await api.claim({ worker_id: 'w', model_profiles: [profile] });
    expect(jobs.map((j: { id: string }) => j.id)).to.deep.equal([c.id]);
    await expectConsistent(t.sql, { counters: true });
  });
});
