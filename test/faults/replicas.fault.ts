// Scenario 1: three replicas on one database, twelve HTTP workers spread over
// them — most complete, some fail on purpose, some let their leases expire and
// then try to complete late — and 5,000 jobs driven to a terminal state.
import { expect } from 'chai';
import { waitUntil } from '../support/wait.ts';
import { call, checkConsistency, faultScenario, type Replica, sql } from './harness.ts';

const JOBS = 5000;
const PROFILE = 'replica-m';

type Behaviour = 'complete' | 'fail' | 'abandon';
const WORKERS: Behaviour[] = [...Array(7).fill('complete'), ...Array(3).fill('fail'), ...Array(2).fill('abandon')];

describe('fault: three replicas, twelve workers, 5,000 jobs', function () {
  this.timeout(180_000);
  const scenario = faultScenario();
  let replicas: Replica[] = [];

  before(async () => {
    const env = { RETRY_BACKOFF_BASE: '100ms', RETRY_BACKOFF_MAX: '500ms' };
    replicas = await Promise.all([0, 1, 2].map(() => scenario.replica(env)));
  });

  it('drives every job to a terminal state with exactly one completion per accepted lease', async () => {
    const created: string[] = [];
    for (let b = 0; b < JOBS / 1000; b++) {
      const jobs = Array.from({ length: 1000 }, (_, i) => ({ owner_ref: `r/${b}/${i}`, input: { n: i } }));
      const res = await call(`${replicas[b % 3].url}/api/v1/jobs/batch`, 'POST', {
        defaults: { owner_service: 'faults', task_type: 'analysis', model_profile: PROFILE },
        jobs,
      });
      expect(res.status).to.equal(201);
      created.push(...res.body.jobs.map((j: { id: string }) => j.id));
    }

    const completions: { id: string; token: string }[] = [];
    const lateCompletes: number[] = [];
    let stop = false;
    const worker = async (behaviour: Behaviour, n: number) => {
      const base = replicas[n % 3].url;
      while (!stop) {
        const claim = await call(`${base}/api/v1/jobs/claim`, 'POST', {
          worker_id: `w${n}-${behaviour}`,
          model_profiles: [PROFILE],
          limit: 5,
          lease_seconds: behaviour === 'abandon' ? 1 : 30,
          wait_seconds: 1,
        });
        expect(claim.status, JSON.stringify(claim.body)).to.equal(200);
        for (const job of claim.body.jobs) {
          const url = `${base}/api/v1/jobs/${job.id}`;
          if (behaviour === 'complete') {
            const r = await call(`${url}/complete`, 'POST', { lease_token: job.lease_token, result: { by: n } });
            expect(r.status).to.equal(200);
            completions.push({ id: job.id, token: job.lease_token });
          } else if (behaviour === 'fail') {
            const r = await call(`${url}/fail`, 'POST', {
              lease_token: job.lease_token,
              category: 'provider_error',
              message: 'on purpose',
            });
            expect(r.status).to.equal(200);
          }
        }
        if (behaviour === 'abandon' && claim.body.jobs.length) {
          // Come back after the lease ran out: the service must refuse the stale lease.
          const first = claim.body.jobs[0];
          await waitUntil(async () => Date.now() > Date.parse(first.lease_expires_at) + 50, { what: 'lease end' });
          const r = await call(`${base}/api/v1/jobs/${first.id}/complete`, 'POST', { lease_token: first.lease_token, result: {} });
          lateCompletes.push(r.status);
        }
      }
    };
    const running = WORKERS.map((b, n) => worker(b, n));
    await waitUntil(
      async () => {
        const rows = await sql(scenario.db.url, `SELECT count(*)::int AS n FROM jobs WHERE status IN ('pending', 'running')`);
        return rows[0].n === 0;
      },
      { timeoutMs: 150_000, intervalMs: 250, what: 'all jobs terminal' },
    );
    stop = true;
    await Promise.all(running);

    const rows = await sql(scenario.db.url, `SELECT id, status FROM jobs WHERE owner_service = 'faults'`);
    expect(rows).to.have.length(JOBS);
    expect(new Set(rows.map((r) => r.id))).to.deep.equal(new Set(created));
    expect(rows.every((r) => r.status === 'completed' || r.status === 'failed')).to.equal(true);
    // exactly once per accepted lease: no job completed twice, and every completed job by one of our accepted completes
    const byJob = new Map<string, number>();
    for (const c of completions) byJob.set(c.id, (byJob.get(c.id) ?? 0) + 1);
    expect([...byJob.values()].every((n) => n === 1)).to.equal(true);
    const completed = rows.filter((r) => r.status === 'completed').map((r) => r.id);
    expect(new Set(completed)).to.deep.equal(new Set(byJob.keys()));
    expect(lateCompletes.length).to.be.greaterThan(0);
    expect(lateCompletes.every((s) => s === 409)).to.equal(true);
    await checkConsistency(scenario.db.url);
  });
});
