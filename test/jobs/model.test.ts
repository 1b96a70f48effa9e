// Property-based test: random sequences of operations run against the API and
// against a small model of the job state machine. After every step the API's
// answer matches the model, and the API, the `jobs` table and pgboss.job agree
// (scripts/consistency.sql finds nothing).
//
// Every pending job in the model is claimable at once (failures use
// retry_after_seconds 0, retries delay 0, the reaper requeues with run_after now),
// so the model can predict exactly which jobs a claim returns.
import { expect } from 'chai';
import fc from 'fast-check';
import { jobBody, useService } from '../support/service.ts';
import { expireLease, reap } from './helpers.ts';
import { expectConsistent } from '../support/consistency.ts';

type Status = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';
type Outcome = null | 'completed' | 'failed' | 'retried' | 'lease_expired' | 'revoked' | 'cancelled';

interface ModelJob {
  id: string;
  priority: number;
  status: Status;
  attempts: number;
  maxAttempts: number;
  /** Every lease ever issued for the job, oldest first; the last is current while running. */
  leases: { token: string; outcome: Outcome }[];
}

type Op =
  | { op: 'create'; priority: number; maxAttempts: number }
  | { op: 'claim'; limit: number }
  | { op: 'heartbeat' | 'complete'; job: number; lease: number }
  | { op: 'fail'; job: number; lease: number; retryable: boolean }
  | { op: 'retry'; job: number; reset: boolean }
  | { op: 'cancel' | 'expire' | 'get'; job: number };

const jobRef = fc.nat(9);
// Mostly the job's latest lease (-1), else an index into its leases (past the end: a token never issued).
const leaseRef = fc.oneof({ weight: 3, arbitrary: fc.constant(-1) }, { weight: 2, arbitrary: fc.nat(4) });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('create' as const),
      priority: fc.integer({ min: -1, max: 1 }),
      maxAttempts: fc.integer({ min: 1, max: 2 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('claim' as const), limit: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('heartbeat' as const), job: jobRef, lease: leaseRef }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('complete' as const), job: jobRef, lease: leaseRef }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('fail' as const), job: jobRef, lease: leaseRef, retryable: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('retry' as const), job: jobRef, reset: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('cancel' as const), job: jobRef }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('expire' as const), job: jobRef }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('get' as const), job: jobRef }) },
);

const current = (j: ModelJob) => (j.status === 'running' ? j.leases[j.leases.length - 1] : undefined);

/** The claim order: priority DESC, then id (UUIDv7, hex order = age). */
const claimOrder = (a: ModelJob, b: ModelJob) => b.priority - a.priority || (a.id < b.id ? -1 : 1);

describe('job state machine (property-based)', function () {
  this.timeout(300_000);
  const { t, api } = useService({ REAPER_INTERVAL: '1h' });
  let run = 0;

  /** Applies one operation to the API and the model, asserting the API's answer. */
  async function step(jobs: ModelJob[], profile: string, o: Op): Promise<void> {
    if (o.op === 'create') {
      const job = await api.create(jobBody({ model_profile: profile, priority: o.priority, max_attempts: o.maxAttempts }));
      jobs.push({ id: job.id, priority: o.priority, status: 'pending', attempts: 0, maxAttempts: o.maxAttempts, leases: [] });
      return;
    }
    if (o.op === 'claim') {
      const expected = jobs
        .filter((j) => j.status === 'pending')
        .sort(claimOrder)
        .slice(0, o.limit);
      const { jobs: got } = await api.claim({ worker_id: 'w', model_profiles: [profile], limit: o.limit });
      expect(got.map((g: any) => g.id)).to.deep.equal(expected.map((j) => j.id));
      for (const [i, j] of expected.entries()) {
        j.status = 'running';
        j.attempts += 1;
        expect(got[i].attempt).to.equal(j.attempts);
        j.leases.push({ token: got[i].lease_token, outcome: null });
      }
      return;
    }
    const j = jobs[o.job % jobs.length];
    if (!j) return;
    if (o.op === 'get') return;
    if (o.op === 'heartbeat' || o.op === 'complete' || o.op === 'fail') return leaseStep(j, o);
    if (o.op === 'retry') {
      if (j.status !== 'failed' && j.status !== 'running') {
        await api.retry(j.id, { reset_attempts: o.reset }, 409);
        return;
      }
      await api.retry(j.id, { reset_attempts: o.reset });
      const lease = current(j);
      if (lease) lease.outcome = 'revoked';
      if (o.reset) j.attempts = 0;
      else j.maxAttempts = Math.max(j.maxAttempts, j.attempts + 1);
      j.status = 'pending';
      return;
    }
    if (o.op === 'cancel') {
      if (j.status !== 'pending' && j.status !== 'running') {
        await api.cancel(j.id, 409);
        return;
      }
      await api.cancel(j.id);
      const lease = current(j);
      if (lease) lease.outcome = 'cancelled';
      j.status = 'cancelled';
      return;
    }
    // expire: the lease ends and the reaper settles it
    const lease = current(j);
    if (!lease) return;
    await expireLease(t.sql, j.id);
    await reap(t);
    lease.outcome = 'lease_expired';
    j.status = j.attempts < j.maxAttempts ? 'pending' : 'failed';
  }

  async function leaseStep(j: ModelJob, o: Extract<Op, { job: number; lease: number }> & { retryable?: boolean }) {
    const lease = j.leases.at(o.lease) ?? { token: crypto.randomUUID(), outcome: null };
    const holds = current(j)?.token === lease.token;
    const body = { lease_token: lease.token };
    if (o.op === 'heartbeat') {
      await api.heartbeat(j.id, body, holds ? 200 : 409);
      return;
    }
    if (o.op === 'complete') {
      const replay = lease.outcome === 'completed';
      await api.complete(j.id, { ...body, result: { ok: true } }, holds || replay ? 200 : 409);
      if (!holds) return;
      lease.outcome = 'completed';
      j.status = 'completed';
      return;
    }
    const replay = lease.outcome === 'failed' || lease.outcome === 'retried';
    const res = await api.fail(
      j.id,
      { ...body, category: 'internal', message: 'x', retryable: o.retryable, retry_after_seconds: 0 },
      holds || replay ? 200 : 409,
    );
    if (!holds) return;
    const again = o.retryable && j.attempts < j.maxAttempts;
    j.status = again ? 'pending' : 'failed';
    lease.outcome = again ? 'retried' : 'failed';
    expect(res.status).to.equal(j.status);
  }

  /** The API, our table and the attempt log all match the model; the two stores agree. */
  async function verify(jobs: ModelJob[], profile: string): Promise<void> {
    const { jobs: listed } = await api.list({ model_profile: profile, limit: 500 });
    const byId = new Map(listed.map((l: any) => [l.id, l]));
    const { rows } = await t.sql.query(
      `SELECT j.id, j.status, (SELECT count(*)::int FROM job_attempts a WHERE a.job_id = j.id) AS leases
       FROM jobs j WHERE j.model_profile = $1::text`,
      [profile],
    );
    const dbById = new Map(rows.map((r) => [r.id, r]));
    expect(listed.length).to.equal(jobs.length);
    for (const j of jobs) {
      const seen = byId.get(j.id) as any;
      const want = { status: j.status, attempts: j.attempts, max_attempts: j.maxAttempts };
      expect({ status: seen.status, attempts: seen.attempts, max_attempts: seen.max_attempts }, j.id).to.deep.equal(want);
      expect(dbById.get(j.id)).to.deep.equal({ id: j.id, status: j.status, leases: j.leases.length });
    }
    await expectConsistent(t.sql);
  }

  it('API, jobs table and pg-boss agree with the model after every step', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 10, maxLength: 40, size: 'max' }), async (ops) => {
        const profile = `model-run-${++run}`;
        const jobs: ModelJob[] = [];
        for (const o of ops) {
          await step(jobs, profile, o);
          await verify(jobs, profile);
        }
      }),
      { numRuns: 50, endOnFailure: true },
    );
  });
});
