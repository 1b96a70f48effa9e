// Fair share between owner services: a claim shares the slots of a model profile
// in proportion to the owners' weights, whatever their backlogs.
import { expect } from 'chai';
import { withTransaction } from '../../src/db/pool.ts';
import { lockClocksSql } from '../../src/jobs/claim-store.ts';
import { claimBegin, claimJobs } from '../../src/jobs/claim.ts';
import { expectConsistent } from '../support/consistency.ts';
import { seedJobs } from '../support/seed.ts';
import { jobBody, useService } from '../support/service.ts';
import { claimAndComplete, policyClient } from './helpers.ts';

let n = 0;
const newProfile = () => `fair-p${++n}`;
const TASK = 'call_analysis';

describe('fair share between owner services', function () {
  this.timeout(120_000);
  const { t, api } = useService();

  /** Owner A's 10,000 ready jobs, then owner B's 100 in the same queue. */
  async function backlog(profile: string): Promise<void> {
    await api.create(jobBody({ owner_service: 'owner-a', task_type: TASK, model_profile: profile }));
    await seedJobs(t.sql, {
      queues: [{ task_type: TASK, model_profile: profile }],
      count: 9_999,
      status: 'pending',
      owner_service: 'owner-a',
      ageSeconds: 60,
    });
    await api.batch({
      jobs: Array.from({ length: 100 }, () => jobBody({ owner_service: 'owner-b', task_type: TASK, model_profile: profile })),
    });
  }

  /** How many jobs were claimed (10 at a time, completed at once) until all of B's were. */
  async function claimedUntilBDone(profile: string): Promise<number> {
    let claimed = 0;
    let b = 0;
    while (b < 100) {
      const jobs = await claimAndComplete(api, profile, 10);
      expect(jobs, 'jobs claimed').to.have.length(10);
      claimed += jobs.length;
      b += jobs.filter((j) => j.owner_service === 'owner-b').length;
    }
    return claimed;
  }

  it('with equal weights serves all of B within the first 220 claimed jobs', async () => {
    const profile = newProfile();
    await backlog(profile);
    expect(await claimedUntilBDone(profile)).to.be.at.most(220);
    await expectConsistent(t.sql);
  });

  it('with B at weight 3 and A at 1 serves all of B within the first 150', async () => {
    const profile = newProfile();
    const policies = policyClient(t);
    await policies.put({ scope: { owner_service: 'owner-b', model_profile: profile }, weight: 3 }, 201);
    await backlog(profile);
    expect(await claimedUntilBDone(profile)).to.be.at.most(150);
    await expectConsistent(t.sql);
  });

  it('with one owner keeps priority, then age', async () => {
    const profile = newProfile();
    const low = await api.create(jobBody({ model_profile: profile, priority: 0 }));
    const high = await api.create(jobBody({ model_profile: profile, priority: 5 }));
    const later = await api.create(jobBody({ model_profile: profile, priority: 0 }));
    const { jobs } = await api.claim({ worker_id: 'w', model_profiles: [profile], limit: 3 });
    expect(jobs.map((j: { id: string }) => j.id)).to.deep.equal([high.id, low.id, later.id]);
  });

  it('does not let a high priority of one owner overtake another owner', async () => {
    const profile = newProfile();
    await api.batch({ jobs: Array.from({ length: 5 }, () => jobBody({ owner_service: 'loud', model_profile: profile, priority: 1000 })) });
    await api.batch({ jobs: Array.from({ length: 5 }, () => jobBody({ owner_service: 'quiet', model_profile: profile })) });
    const { jobs } = await api.claim({ worker_id: 'w', model_profiles: [profile], limit: 4 });
    const owners = jobs.map((j: { owner_service: string }) => j.owner_service).sort();
    expect(owners).to.deep.equal(['loud', 'loud', 'quiet', 'quiet']);
  });

  it('splits running jobs by weight within one claim limit when 8 workers hold their jobs', async () => {
    const profile = newProfile();
    const policies = policyClient(t);
    await policies.put({ scope: { owner_service: 'heavy' }, weight: 3 }, 201);
    for (const owner of ['heavy', 'light']) {
      await api.create(jobBody({ owner_service: owner, model_profile: profile }));
      await seedJobs(t.sql, { queues: [{ task_type: TASK, model_profile: profile }], count: 999, status: 'pending', owner_service: owner });
    }
    const limit = 5;
    // 8 workers, 5 rounds each: 200 jobs held (never completed)
    for (let round = 0; round < 5; round++)
      await Promise.all(Array.from({ length: 8 }, (_, w) => api.claim({ worker_id: `w${w}`, model_profiles: [profile], limit })));
    const { rows } = await t.sql.query(
      `SELECT owner_service, count(*)::int AS n FROM jobs WHERE model_profile = $1 AND status = 'running' GROUP BY 1`,
      [profile],
    );
    const running = Object.fromEntries(rows.map((r) => [r.owner_service, r.n]));
    expect(running.heavy + running.light).to.equal(200);
    expect(running.heavy).to.be.within(150 - limit, 150 + limit);
    await expectConsistent(t.sql);
  });

  it('remembers the profiles where owners compete, and forgets one when a single owner is left', async () => {
    const profile = newProfile();
    await api.create(jobBody({ owner_service: 'first', model_profile: profile }));
    await api.create(jobBody({ owner_service: 'second', model_profile: profile }));
    // what a Claimer keeps between claims: where the next claim takes the clock lock first
    const contended = new Set<string>(['other-profile']);
    const claim = () =>
      withTransaction(t.sql, (db) => claimJobs(db, { workerId: 'w', modelProfiles: [profile], limit: 1, leaseSeconds: 60 }, [], contended));
    expect((await claim()).rows).to.have.length(1);
    expect([...contended].sort()).to.deep.equal([profile, 'other-profile'].sort());
    const second = (await claim()).rows; // takes the clock lock before reading: one owner's job is left
    expect(second).to.have.length(1);
    expect([...contended]).to.deep.equal(['other-profile']);
    expect((await claim()).rows).to.have.length(0);
    await expectConsistent(t.sql);
  });

  it("locks a contended profile's clock in the claim's BEGIN, before anything is read", async () => {
    const profile = newProfile();
    await api.create(jobBody({ owner_service: 'first', model_profile: profile }));
    await api.create(jobBody({ owner_service: 'second', model_profile: profile }));
    const params = { workerId: 'w', modelProfiles: [profile], limit: 1, leaseSeconds: 60 };
    const contended = new Set<string>();
    await withTransaction(t.sql, (db) => claimJobs(db, params, [], contended)); // writes the clock; owners compete
    expect([...contended]).to.deep.equal([profile]);
    const { rows } = await withTransaction(
      t.sql,
      async (db) => {
        const other = await t.sql.query('SELECT 1 FROM fair_clock WHERE model_profile = $1 FOR UPDATE NOWAIT', [profile]).catch((e) => e);
        expect(other.code, 'another claimer finds the clock locked').to.equal('55P03');
        return claimJobs(db, params, [], contended, [profile]);
      },
      claimBegin([profile]),
    );
    expect(rows).to.have.length(1);
    await expectConsistent(t.sql);
  });

  it('quotes the profile names it puts into the clock lock', async () => {
    const names = ["o'brien", 'back\\slash', "'); DROP TABLE jobs; --"];
    const { rows } = await withTransaction(t.sql, (db) => db.query(lockClocksSql(names)));
    expect(rows).to.deep.equal([]);
    expect((await t.sql.query('SELECT count(*)::int AS n FROM jobs')).rows[0].n).to.be.above(0);
  });

  it('gives an owner back from idle no banked credit', async () => {
    const profile = newProfile();
    await api.batch({ jobs: Array.from({ length: 50 }, () => jobBody({ owner_service: 'steady', model_profile: profile })) });
    for (let i = 0; i < 4; i++) await claimAndComplete(api, profile, 10);
    // `steady` has been served 40 times; `returning` arrives with an empty history
    await api.batch({ jobs: Array.from({ length: 20 }, () => jobBody({ owner_service: 'returning', model_profile: profile })) });
    await api.batch({ jobs: Array.from({ length: 20 }, () => jobBody({ owner_service: 'steady', model_profile: profile })) });
    const jobs = await claimAndComplete(api, profile, 10);
    const returning = jobs.filter((j) => j.owner_service === 'returning').length;
    expect(returning).to.be.within(4, 6);
  });
});
