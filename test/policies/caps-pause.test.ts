// Running caps and pause: held jobs stay pending (and `created` in pg-boss), a cap
// is never exceeded across replicas and concurrent claims, held jobs flow again
// when capacity frees or the scope resumes, and a waiting long-poll wakes then.
import { expect } from 'chai';
import { expectConsistent } from '../support/consistency.ts';
import { seedJobs } from '../support/seed.ts';
import { waitFor } from '../support/wait.ts';
import { type Client, client, jobBody, setup, type TestService, useService } from '../support/service.ts';
import { claimAndComplete, policyClient } from './helpers.ts';

let n = 0;
const newProfile = () => `caps-p${++n}`;
const TASK = 'call_analysis';

describe('running caps and pause', function () {
  this.timeout(120_000);
  const { t, api } = useService();
  let second: TestService;
  let api2: Client;

  before(async () => {
    second = await setup({}, t.databaseUrl);
    api2 = client(second.api);
  });
  after(() => second?.close());

  const running = async (profile: string, owner?: string) =>
    (
      await t.sql.query(
        `SELECT count(*)::int AS n FROM jobs WHERE model_profile = $1 AND status = 'running' AND ($2::text IS NULL OR owner_service = $2)`,
        [profile, owner ?? null],
      )
    ).rows[0].n;

  it('never runs more than the cap across two replicas and 8 concurrent claimers; held jobs flow after completions', async () => {
    const profile = newProfile();
    await policyClient(t).put({ scope: { owner_service: 'capped', model_profile: profile }, max_running: 5 }, 201);
    for (const owner of ['capped', 'free']) {
      await api.create(jobBody({ owner_service: owner, task_type: TASK, model_profile: profile }));
      await seedJobs(t.sql, { queues: [{ task_type: TASK, model_profile: profile }], count: 199, status: 'pending', owner_service: owner });
    }
    let sampling = true;
    let maxSeen = 0;
    const sampler = (async () => {
      while (sampling) maxSeen = Math.max(maxSeen, await running(profile, 'capped'));
    })();
    const held: { id: string; lease_token: string; owner_service: string }[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        const c = w % 2 ? api : api2;
        for (let round = 0; round < 5; round++) {
          const { jobs } = await c.claim({ worker_id: `w${w}`, model_profiles: [profile], limit: 3 });
          held.push(...jobs);
        }
      }),
    );
    sampling = false;
    await sampler;
    expect(maxSeen, 'running jobs of the capped owner').to.be.at.most(5);
    expect(await running(profile, 'capped')).to.equal(5);
    expect(held.filter((j) => j.owner_service === 'free').length).to.be.greaterThan(20);
    // held jobs stay `created` in pg-boss
    const { rows } = await t.sql.query(
      `SELECT p.state, count(*)::int AS n FROM jobs j JOIN pgboss.job p ON p.name = j.queue AND p.id = j.id
       WHERE j.model_profile = $1 AND j.owner_service = 'capped' AND j.status = 'pending' GROUP BY 1`,
      [profile],
    );
    expect(rows).to.deep.equal([{ state: 'created', n: 195 }]);
    const metrics = await t.api.get('/metrics').expect(200);
    expect(metrics.text).to.include(`ai_service_jobs_held{task_type="${TASK}",model_profile="${profile}",reason="capped"} 195`);
    expect(metrics.text).to.include(`ai_service_owner_running_jobs{owner_service="capped",model_profile="${profile}"} 5`);
    expect(metrics.text).to.include(`ai_service_owner_max_running{owner_service="capped",model_profile="${profile}"} 5`);
    const stats = await api.stats();
    expect(stats.queues.find((q: { model_profile: string }) => q.model_profile === profile)).to.include({
      held_capped: 195,
      held_paused: 0,
    });
    expect(stats.running_by_owner).to.deep.include({ owner_service: 'capped', model_profile: profile, running: 5, max_running: 5 });
    // completing two capped jobs lets two more through
    for (const j of held.filter((x) => x.owner_service === 'capped').slice(0, 2))
      await api.complete(j.id, { lease_token: j.lease_token, result: {} });
    const more = await api.claim({ worker_id: 'w', model_profiles: [profile], limit: 100 });
    expect(more.jobs.filter((j: { owner_service: string }) => j.owner_service === 'capped')).to.have.length(2);
    expect(await running(profile, 'capped')).to.equal(5);
    await expectConsistent(t.sql);
  });

  it('a cap of 0 holds everything of its scope; other owners are served', async () => {
    const profile = newProfile();
    await policyClient(t).put({ scope: { owner_service: 'zero', model_profile: profile }, max_running: 0 }, 201);
    const held = await api.create(jobBody({ owner_service: 'zero', model_profile: profile }));
    const other = await api.create(jobBody({ owner_service: 'other', model_profile: profile }));
    const capped = async () => Number(/ai_service_claims_capped_total (\d+)/.exec((await t.api.get('/metrics').expect(200)).text)?.[1]);
    const before = await capped();
    const { jobs } = await api.claim({ worker_id: 'w', model_profiles: [profile], limit: 10 });
    expect(jobs.map((j: { id: string }) => j.id)).to.deep.equal([other.id]);
    // one job instead of ten while a cap holds another: a claim shortened by a cap
    expect(await capped()).to.equal(before + 1);
    const got = await api.get(held.id);
    expect(got.status).to.equal('pending');
    const [policy] = (await policyClient(t).list()).filter((p: { scope: { owner_service?: string } }) => p.scope.owner_service === 'zero');
    expect(got.held_by).to.deep.equal([policy.id]);
  });

  it('does not claim a paused scope; running jobs settle; a waiting long-poll wakes within 1 s of resume', async () => {
    const profile = newProfile();
    const policies = policyClient(t);
    const first = await api.create(jobBody({ model_profile: profile }));
    const [claimed] = (await api.claim({ worker_id: 'w', model_profiles: [profile] })).jobs;
    expect(claimed.id).to.equal(first.id);
    const pause = await policies.put({ scope: { model_profile: profile }, paused: true }, 201);
    const waiting = await api.create(jobBody({ model_profile: profile }));
    expect((await api.claim({ worker_id: 'w', model_profiles: [profile] })).jobs).to.deep.equal([]);
    // the paused queue shows it, and the held job says why it waits
    const stats = await api.stats();
    const queue = stats.queues.find((q: { model_profile: string }) => q.model_profile === profile);
    expect(queue).to.include({ paused: true, held_paused: 1, held_capped: 0 });
    expect((await api.get(waiting.id)).held_by).to.deep.equal([pause.body.id]);
    // the running job settles normally
    await api.complete(claimed.id, { lease_token: claimed.lease_token, result: {} });
    // a long-poll on the paused profile waits … and wakes when the scope resumes
    const longPoll = api.claim({ worker_id: 'w', model_profiles: [profile], wait_seconds: 10 });
    await waitFor('the long-poll waiting', () => t.service.jobs.waitingClaims > 0);
    const resumedAt = Date.now();
    await policies.put({ scope: { model_profile: profile }, paused: false }, 200);
    const { jobs } = await longPoll;
    expect(jobs.map((j: { id: string }) => j.id)).to.deep.equal([waiting.id]);
    expect(Date.now() - resumedAt).to.be.below(1000);
    await expectConsistent(t.sql);
  });

  it('a resume on another replica wakes a long-poll here within 1 s', async () => {
    const profile = newProfile();
    const pause = await policyClient(second).put({ scope: { model_profile: profile }, paused: true }, 201);
    const job = await api.create(jobBody({ model_profile: profile }));
    const longPoll = api.claim({ worker_id: 'w', model_profiles: [profile], wait_seconds: 10 });
    await waitFor('the long-poll waiting', () => t.service.jobs.waitingClaims > 0);
    const resumedAt = Date.now();
    await policyClient(second).delete(pause.body.id);
    const { jobs } = await longPoll;
    expect(jobs.map((j: { id: string }) => j.id)).to.deep.equal([job.id]);
    expect(Date.now() - resumedAt).to.be.below(1000);
    await claimAndComplete(api, profile, 1);
  });
});
