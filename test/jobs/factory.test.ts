// The job factory leaves a job in exactly the shape the service's own statements
// would: the consistency check finds nothing, and the API carries on from there
// (a given running job completes with its lease token, a pending one is claimed).
import { expect } from 'chai';
import type { JobStatus } from '../../src/jobs/job-row.ts';
import { expectConsistent } from '../support/consistency.ts';
import { given } from '../support/factory.ts';
import { seedJobs } from '../support/seed.ts';
import { useService } from '../support/service.ts';
import { attemptRows, bossRow, RESULT } from './helpers.ts';

describe('job factory', () => {
  const { t, api } = useService({ REAPER_INTERVAL: '1h' });

  const expected: Record<JobStatus, { boss: string; attempts: (string | null)[] }> = {
    pending: { boss: 'created', attempts: [] },
    running: { boss: 'active', attempts: [null] },
    completed: { boss: 'completed', attempts: ['completed'] },
    failed: { boss: 'failed', attempts: ['failed'] },
    cancelled: { boss: 'cancelled', attempts: [] },
  };
  for (const [status, want] of Object.entries(expected) as [JobStatus, (typeof expected)[JobStatus]][]) {
    it(`writes a ${status} job to both stores and the attempt log, as the API shows it`, async () => {
      const job = await given.job(t, { status, owner_service: 'a', model_profile: `factory-${status}` });
      expect(await api.get(job.id)).to.include({ id: job.id, status, owner_service: 'a' });
      expect((await bossRow(t.sql, job.id)).state).to.equal(want.boss);
      expect((await attemptRows(t.sql, job.id)).map((a) => a.outcome)).to.deep.equal(want.attempts);
      await expectConsistent(t.sql, { counters: true });
    });
  }

  it('gives a running job a lease the worker API accepts', async () => {
    const job = await given.job(t, { status: 'running', model_profile: 'factory-lease' });
    await api.heartbeat(job.id, { lease_token: job.lease_token });
    expect(await api.complete(job.id, { lease_token: job.lease_token, result: RESULT })).to.include({ status: 'completed' });
    await expectConsistent(t.sql, { counters: true });
  });

  it('gives a pending job that a claim picks up, and one waiting for a retry as its next attempt', async () => {
    const fresh = await given.job(t, { model_profile: 'factory-claim', priority: 1 });
    const retried = await given.job(t, { model_profile: 'factory-claim', attempts: 1 });
    expect((await bossRow(t.sql, retried.id)).state).to.equal('retry');
    const { jobs } = await api.claim({ worker_id: 'w', model_profiles: ['factory-claim'], limit: 2 });
    expect(jobs.map((j: { id: string; attempt: number }) => [j.id, j.attempt])).to.deep.equal([
      [fresh.id, 1],
      [retried.id, 2],
    ]);
    await expectConsistent(t.sql, { counters: true });
  });

  it('places a job in time and takes any column as an override', async () => {
    const finished = '2020-01-02T03:04:05.000Z';
    const job = await given.job(t, {
      status: 'failed',
      created_at: '2020-01-01T00:00:00.000Z',
      finished_at: finished,
      max_attempts: 1,
      error: { category: 'timeout', message: 'too slow' },
    });
    expect(new Date(job.finished_at!).toISOString()).to.equal(finished);
    expect(job).to.deep.include({ max_attempts: 1, attempts: 1, error: { category: 'timeout', message: 'too slow' } });
    await api.retry(job.id);
    await expectConsistent(t.sql, { counters: true });
  });

  it('seeds in bulk with the status events a job run through the API has, when asked', async () => {
    /** Each distinct (job status, its status events in order) pair of a profile. */
    const histories = async (model_profile: string) => {
      const { rows } = await t.sql.query(
        `SELECT DISTINCT status, events FROM (
           SELECT j.status, array_agg(e.data ->> 'status' ORDER BY e.id) AS events
           FROM jobs j JOIN job_events e ON e.job_id = j.id AND e.kind = 'status'
           WHERE j.model_profile = $1::text GROUP BY j.id, j.status) h
         ORDER BY status`,
        [model_profile],
      );
      return rows.map((r) => [r.status, r.events]);
    };
    const job = await given.job(t, { model_profile: 'seed-events' });
    const { jobs } = await api.claim({ worker_id: 'w', model_profiles: ['seed-events'] });
    await api.complete(job.id, { lease_token: jobs[0].lease_token, result: RESULT });
    expect(await histories('seed-events')).to.deep.equal([['completed', ['pending', 'running', 'completed']]]);

    const queues = [{ task_type: 'call_analysis', model_profile: 'seed-events-bulk' }];
    await given.job(t, { model_profile: 'seed-events-bulk', status: 'cancelled' }); // creates the queue
    await seedJobs(t.sql, { queues, count: 400, status: { pending: 10, running: 20, failed: 20, cancelled: 20 }, earlierEvents: true });
    expect(await histories('seed-events-bulk')).to.deep.equal([
      ['cancelled', ['cancelled']], // the factory's job: its last event only
      ['cancelled', ['pending', 'cancelled']],
      ['completed', ['pending', 'running', 'completed']],
      ['failed', ['pending', 'running', 'failed']],
      ['pending', ['pending']],
      ['running', ['pending', 'running']],
    ]);
    await expectConsistent(t.sql, { counters: true });
  });
});
