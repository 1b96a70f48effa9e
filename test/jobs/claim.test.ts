import { expect } from 'chai';
import { jobBody, useService } from '../support/service.ts';
import { attemptRows, bossRow, expectProblem, jobRow } from './helpers.ts';
import { expectConsistent } from '../support/consistency.ts';

// Each test uses its own model profile, so tests do not see each other's jobs.
let profileCounter = 0;
const newProfile = () => `claim-p${++profileCounter}`;

describe('claiming jobs', () => {
  const { t, api } = useService();

  it('hands out a job with attempt 1, a lease token and lease expiry, and marks both stores', async () => {
    const profile = newProfile();
    const job = await api.create(jobBody({ model_profile: profile }));
    const before = Date.now();
    const { jobs } = await api.claim({ worker_id: 'gpu-01', model_profiles: [profile], lease_seconds: 120 });
    expect(jobs).to.have.length(1);
    const c = jobs[0];
    expect(c).to.include({ id: job.id, status: 'running', attempt: 1, attempts: 1, worker_id: 'gpu-01' });
    expect(c.input).to.deep.equal(job.input);
    expect(c.lease_token).to.match(/^[0-9a-f-]{36}$/);
    const leaseMs = Date.parse(c.lease_expires_at) - before;
    expect(leaseMs).to.be.within(110_000, 130_000);
    expect(await bossRow(t.sql, job.id)).to.include({ state: 'active', retry_count: 0 });
    const [attempt] = await attemptRows(t.sql, job.id);
    expect(attempt).to.include({ attempt: 1, worker_id: 'gpu-01', lease_token: c.lease_token, outcome: null });
    // the token is only given to the claimer: a GET does not show it
    const got = await api.get(job.id);
    expect(got).to.not.have.property('lease_token');
    expect(JSON.stringify(got)).to.not.include(c.lease_token);
    await expectConsistent(t.sql);
  });

  it('defaults lease_seconds to 300 and limit to 1', async () => {
    const profile = newProfile();
    await api.batch({ jobs: [jobBody({ model_profile: profile }), jobBody({ model_profile: profile })] });
    const { jobs } = await api.claim({ worker_id: 'w', model_profiles: [profile] });
    expect(jobs).to.have.length(1);
    const row = await jobRow(t.sql, jobs[0].id);
    expect(row.lease_seconds).to.equal(300);
  });

  it('returns an empty list when nothing is claimable', async () => {
    expect(await api.claim({ worker_id: 'w', model_profiles: [newProfile()] })).to.deep.equal({ jobs: [] });
  });

  it('claims highest priority first, then oldest, across all matching queues', async () => {
    const profile = newProfile();
    const mk = (task_type: string, priority: number, tag: string) =>
      jobBody({ model_profile: profile, task_type, priority, input: { tag } });
    // created in this order (ids are time-ordered)
    const { jobs: created } = await api.batch({
      jobs: [mk('a', 0, 'a-old-0'), mk('b', 5, 'b-old-5'), mk('c', 0, 'c-mid-0'), mk('a', 5, 'a-new-5'), mk('b', -1, 'b-low')],
    });
    expect(created).to.have.length(5);
    const late = await api.create(mk('c', 0, 'c-new-0'));
    const { jobs } = await api.claim({ worker_id: 'w', model_profiles: [profile], limit: 100 });
    expect(jobs.map((j: any) => j.input.tag)).to.deep.equal(['b-old-5', 'a-new-5', 'a-old-0', 'c-mid-0', late.input.tag, 'b-low']);
  });

  it('serves every queue in age order, so a busy queue cannot starve a quiet one', async () => {
    const profile = newProfile();
    const quiet = await api.create(jobBody({ model_profile: profile, task_type: 'quiet' }));
    await api.batch({ jobs: Array.from({ length: 20 }, () => jobBody({ model_profile: profile, task_type: 'busy' })) });
    const { jobs } = await api.claim({ worker_id: 'w', model_profiles: [profile] });
    expect(jobs[0].id).to.equal(quiet.id);
  });

  it('claims at most `limit` jobs, and limit must be 1-100', async () => {
    const profile = newProfile();
    await api.batch({ jobs: Array.from({ length: 7 }, () => jobBody({ model_profile: profile })) });
    expect((await api.claim({ worker_id: 'w', model_profiles: [profile], limit: 3 })).jobs).to.have.length(3);
    expect((await api.claim({ worker_id: 'w', model_profiles: [profile], limit: 100 })).jobs).to.have.length(4);
    expectProblem(await api.claim({ worker_id: 'w', model_profiles: [profile], limit: 0 }, 400), 'validation_failed');
    expectProblem(await api.claim({ worker_id: 'w', model_profiles: [profile], limit: 101 }, 400), 'validation_failed');
  });

  it('filters by task_types, by model_profiles, and by both', async () => {
    const p1 = newProfile();
    const p2 = newProfile();
    const tt = `tt-${p1}`;
    const a = await api.create(jobBody({ model_profile: p1, task_type: tt }));
    const b = await api.create(jobBody({ model_profile: p2, task_type: tt }));
    const c = await api.create(jobBody({ model_profile: p1, task_type: 'other' }));
    const both = await api.claim({ worker_id: 'w', model_profiles: [p1], task_types: [tt], limit: 10 });
    expect(both.jobs.map((j: any) => j.id)).to.deep.equal([a.id]);
    const byTask = await api.claim({ worker_id: 'w', task_types: [tt], limit: 10 });
    expect(byTask.jobs.map((j: any) => j.id)).to.deep.equal([b.id]);
    const byProfiles = await api.claim({ worker_id: 'w', model_profiles: [p2, p1], limit: 10 });
    expect(byProfiles.jobs.map((j: any) => j.id)).to.deep.equal([c.id]);
  });

  it('requires model_profiles or task_types', async () => {
    expectProblem(await api.claim({ worker_id: 'w' }, 400), 'validation_failed');
    expectProblem(await api.claim({ worker_id: 'w', model_profiles: [] }, 400), 'validation_failed');
  });

  it('validates lease_seconds (1-43200) and wait_seconds (0-30)', async () => {
    const profile = newProfile();
    for (const bad of [{ lease_seconds: 0 }, { lease_seconds: 43201 }, { wait_seconds: 31 }, { wait_seconds: -1 }]) {
      expectProblem(await api.claim({ worker_id: 'w', model_profiles: [profile], ...bad }, 400), 'validation_failed');
    }
    await api.create(jobBody({ model_profile: profile }));
    const { jobs } = await api.claim({ worker_id: 'w', model_profiles: [profile], lease_seconds: 43200 });
    expect(Date.parse(jobs[0].lease_expires_at) - Date.now()).to.be.greaterThan(43_000_000);
  });

  it('never hands a claimed job out again while its lease runs', async () => {
    const profile = newProfile();
    await api.create(jobBody({ model_profile: profile }));
    expect((await api.claim({ worker_id: 'a', model_profiles: [profile] })).jobs).to.have.length(1);
    expect((await api.claim({ worker_id: 'b', model_profiles: [profile] })).jobs).to.have.length(0);
  });
});
