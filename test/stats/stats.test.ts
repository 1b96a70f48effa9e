import { expect } from 'chai';
import { rollupStats } from '../../src/stats/store.ts';
import { given } from '../support/factory.ts';
import { jobBody, useService } from '../support/service.ts';
import { waitFor } from '../support/wait.ts';
import { FILLED, fillQueue } from './scenario.ts';

const pick = (q: Record<string, unknown>, keys: string[]) => Object.fromEntries(keys.map((k) => [k, q[k]]));
const COUNT_KEYS = Object.keys(FILLED);

describe('GET /api/v1/stats', () => {
  const { t, api } = useService();

  const queueOf = (doc: any, queue: string) => doc.queues.find((q: any) => q.queue === queue);

  it('counts every status per queue, splits pending into ready and delayed, and sums totals', async () => {
    const empty = await api.stats();
    expect(empty.queues).to.deep.equal([]);
    await fillQueue(api, 'call_analysis', 'stats-a');
    await fillQueue(api, 'transcription', 'stats-b');
    const doc = await api.stats();
    for (const name of ['call_analysis/stats-a', 'transcription/stats-b']) {
      const q = queueOf(doc, name);
      expect(pick(q, COUNT_KEYS), name).to.deep.equal(FILLED);
      expect(q.task_type).to.equal(name.split('/')[0]);
      expect(q.model_profile).to.equal(name.split('/')[1]);
    }
    const doubled = Object.fromEntries(COUNT_KEYS.map((k) => [k, 2 * FILLED[k as keyof typeof FILLED]]));
    expect(doc.totals).to.deep.equal(doubled);
    expect(Date.parse(doc.generated_at)).to.be.closeTo(Date.now(), 5000);
  });

  it('reports errors per category, per queue, in total and in the last hour', async () => {
    const doc = await api.stats();
    expect(doc.errors.total).to.deep.equal({ invalid_input: 2 });
    expect(doc.errors.last_hour).to.deep.equal({ invalid_input: 2 });
    expect(doc.errors.by_queue).to.deep.equal([
      {
        queue: 'call_analysis/stats-a',
        task_type: 'call_analysis',
        model_profile: 'stats-a',
        category: 'invalid_input',
        total: 1,
        last_hour: 1,
      },
      {
        queue: 'transcription/stats-b',
        task_type: 'transcription',
        model_profile: 'stats-b',
        category: 'invalid_input',
        total: 1,
        last_hour: 1,
      },
    ]);
  });

  it('gives the age of the oldest ready job, ignoring delayed and running ones', async () => {
    // The second job has been waiting for an hour; the running one was created then too.
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    const profile = { model_profile: 'stats-age' };
    await given.job(t, { ...profile, status: 'running', created_at: hourAgo });
    await given.job(t, { ...profile, created_at: hourAgo });
    await given.job(t, profile);
    await given.job(t, { ...profile, run_after: new Date(Date.now() + 60_000).toISOString() });
    const doc = await api.stats();
    const q = queueOf(doc, 'call_analysis/stats-age');
    expect(q.oldest_ready_age_seconds).to.be.within(3600, 3600 + 60);
    expect(pick(q, ['pending', 'ready', 'delayed', 'running'])).to.deep.equal({ pending: 3, ready: 2, delayed: 1, running: 1 });

    const none = await api.create(jobBody({ model_profile: 'stats-none', run_after: new Date(Date.now() + 60_000).toISOString() }));
    expect(none.status).to.equal('pending');
    const empty = queueOf(await api.stats(), 'call_analysis/stats-none');
    expect(empty.oldest_ready_age_seconds).to.equal(null);
    expect(pick(empty, ['pending', 'ready', 'delayed'])).to.deep.equal({ pending: 1, ready: 0, delayed: 1 });
  });

  it('measures the oldest ready age from the moment the job became claimable', async () => {
    const a = await api.create(jobBody({ model_profile: 'stats-age2' }));
    await api.create(jobBody({ model_profile: 'stats-age2' }));
    const doc = await api.stats();
    const expected = (Date.parse(doc.generated_at) - Date.parse(a.run_after)) / 1000;
    expect(queueOf(doc, 'call_analysis/stats-age2').oldest_ready_age_seconds).to.be.closeTo(expected, 0.002);
  });

  it('counts an expired lease as a lease_expired error once the reaper has settled it', async () => {
    const retried = await api.create(jobBody({ model_profile: 'stats-lease', max_attempts: 2 }));
    const final = await api.create(jobBody({ model_profile: 'stats-lease', max_attempts: 1 }));
    await api.claim({ worker_id: 'w-lease', model_profiles: ['stats-lease'], limit: 2, lease_seconds: 1 });
    await waitFor('the reaper to settle both leases', async () => {
      const [a, b] = [await api.get(retried.id), await api.get(final.id)];
      return a.status === 'pending' && b.status === 'failed' ? true : undefined;
    });
    const doc = await api.stats();
    const q = queueOf(doc, 'call_analysis/stats-lease');
    expect(pick(q, ['pending', 'ready', 'running', 'failed', 'failed_last_hour'])).to.deep.equal({
      pending: 1,
      ready: 1,
      running: 0,
      failed: 1,
      failed_last_hour: 1,
    });
    const lease = doc.errors.by_queue.filter((e: any) => e.queue === 'call_analysis/stats-lease');
    expect(lease).to.deep.equal([
      {
        queue: 'call_analysis/stats-lease',
        task_type: 'call_analysis',
        model_profile: 'stats-lease',
        category: 'lease_expired',
        total: 2,
        last_hour: 2,
      },
    ]);
    expect(doc.errors.total.lease_expired).to.equal(2);
    expect(doc.errors.last_hour.lease_expired).to.equal(2);
  });

  it('returns the same figures before and after the rollup compacts the deltas', async () => {
    await api.create(jobBody({ model_profile: 'stats-rollup' }));
    // Stop the leader so its own rollup cannot run between the two reads.
    await t.service.leader.stop();
    const before = await api.stats();
    const deltas = await t.sql.query('SELECT count(*)::int AS n FROM job_stat_deltas');
    expect(deltas.rows[0].n).to.be.greaterThan(0);
    await rollupStats(t.sql);
    const after = await api.stats();
    const left = await t.sql.query('SELECT count(*)::int AS n FROM job_stat_deltas');
    expect(left.rows[0].n).to.equal(0);
    const strip = (d: any) => ({
      ...d,
      generated_at: undefined,
      queues: d.queues.map((q: any) => ({ ...q, oldest_ready_age_seconds: q.oldest_ready_age_seconds !== null })),
    });
    expect(strip(after)).to.deep.equal(strip(before));
  });

  it('counts the last hour in whole minutes: the current one and the 59 before it', async () => {
    // Minute buckets written as the triggers would have written them 59 and 60 minutes ago.
    await t.sql.query(
      `INSERT INTO job_stat_deltas (queue, key, bucket, n) VALUES
         ('call_analysis/stats-a', 'finished:completed', date_trunc('minute', now()) - interval '59 minutes', 5),
         ('call_analysis/stats-a', 'finished:completed', date_trunc('minute', now()) - interval '60 minutes', 7)`,
    );
    const q = queueOf(await api.stats(), 'call_analysis/stats-a');
    expect(q.completed_last_hour).to.equal(FILLED.completed_last_hour + 5);
    expect(q.completed).to.equal(FILLED.completed);
  });
});
