// The settle statements answer every input item with what happened to it, in one
// statement; and two batch completes over the same jobs in opposite orders wait
// for each other instead of deadlocking.
import { expect } from 'chai';
import { completeJobs, failJob, heartbeat } from '../../src/jobs/settle-store.ts';
import { toHttpError } from '../../src/http/errors.ts';
import { jobBody, useService } from '../support/service.ts';
import { expectConsistent } from '../support/consistency.ts';
import { expireLease, jobRow } from './helpers.ts';

const UNKNOWN = '01936f5e-8a4b-7c2d-9e1f-0a1b2c3d4e5f';
const BACKOFF = { baseMs: 1000, maxMs: 2000 };
const failure = (retryable: boolean) => ({ error: { category: 'x', message: 'y' }, retryable });

describe('settle outcomes per item', () => {
  const { t, api } = useService({ REAPER_INTERVAL: '1h' });
  let n = 0;

  async function claimed(count: number, overrides: Record<string, unknown> = {}) {
    const profile = `outcomes-${++n}`;
    await api.batch({ jobs: Array.from({ length: count }, () => jobBody({ model_profile: profile, ...overrides })) });
    const { jobs } = await api.claim({ worker_id: 'w', model_profiles: [profile], limit: count });
    expect(jobs).to.have.length(count);
    return (jobs as { id: string; lease_token: string }[]).sort((a, b) => a.id.localeCompare(b.id));
  }

  it('complete: completed, replayed, lease_lost and not_found in one statement, each with its job where there is one', async () => {
    const [a, b, c] = await claimed(3);
    await api.complete(a.id, { lease_token: a.lease_token, result: { first: true } });
    await expireLease(t.sql, b.id);
    const out = await completeJobs(t.service.pool, [
      { id: a.id, lease_token: a.lease_token, result: { again: true } },
      { id: b.id, lease_token: b.lease_token, result: {} },
      { id: c.id, lease_token: c.lease_token, result: { ok: 1 } },
      { id: UNKNOWN, lease_token: c.lease_token, result: {} },
    ]);
    const byId = new Map(out.map((s) => [s.id, s]));
    expect(out).to.have.length(4);
    expect(byId.get(a.id)).to.deep.include({ outcome: 'replayed' });
    expect(byId.get(a.id)?.job?.result).to.deep.equal({ first: true });
    expect(byId.get(b.id)).to.deep.equal({ id: b.id, outcome: 'lease_lost', job: undefined });
    expect(byId.get(c.id)).to.deep.include({ outcome: 'completed' });
    expect(byId.get(c.id)?.job).to.include({ id: c.id, status: 'completed' });
    expect(byId.get(UNKNOWN)).to.deep.equal({ id: UNKNOWN, outcome: 'not_found', job: undefined });
    expect(await jobRow(t.sql, b.id)).to.include({ status: 'running' });
    await expectConsistent(t.sql);
  });

  it('complete: a token that completed nothing is lease_lost even when the job is completed', async () => {
    const [a] = await claimed(1);
    await api.complete(a.id, { lease_token: a.lease_token, result: {} });
    const [s] = await completeJobs(t.service.pool, [{ id: a.id, lease_token: UNKNOWN, result: {} }]);
    expect(s).to.deep.equal({ id: a.id, outcome: 'lease_lost', job: undefined });
  });

  it('fail: retried, failed, replayed, lease_lost and not_found', async () => {
    const [a, b, c] = await claimed(3, { max_attempts: 2 });
    const retried = await failJob(t.service.pool, a.id, a.lease_token, failure(true), BACKOFF);
    expect(retried.outcome).to.equal('retried');
    expect(retried.job).to.include({ id: a.id, status: 'pending' });
    const failed = await failJob(t.service.pool, b.id, b.lease_token, failure(false), BACKOFF);
    expect(failed.outcome).to.equal('failed');
    expect(failed.job).to.include({ id: b.id, status: 'failed' });
    const replayed = await failJob(t.service.pool, a.id, a.lease_token, failure(true), BACKOFF);
    expect(replayed.outcome).to.equal('replayed');
    expect(replayed.job).to.include({ id: a.id, status: 'pending', attempts: 1 });
    await expireLease(t.sql, c.id);
    expect(await failJob(t.service.pool, c.id, c.lease_token, failure(true), BACKOFF)).to.deep.equal({
      id: c.id,
      outcome: 'lease_lost',
      job: undefined,
    });
    expect(await failJob(t.service.pool, UNKNOWN, c.lease_token, failure(true), BACKOFF)).to.deep.equal({
      id: UNKNOWN,
      outcome: 'not_found',
      job: undefined,
    });
    await expectConsistent(t.sql);
  });

  it('fail: a complete by the same lease is not a replay of a fail', async () => {
    const [a] = await claimed(1);
    await api.complete(a.id, { lease_token: a.lease_token, result: {} });
    expect((await failJob(t.service.pool, a.id, a.lease_token, failure(true), BACKOFF)).outcome).to.equal('lease_lost');
  });

  it('heartbeat: extended, lease_lost and not_found', async () => {
    const [a, b] = await claimed(2);
    const extended = await heartbeat(t.service.pool, a.id, a.lease_token, 600);
    expect(extended.outcome).to.equal('extended');
    expect(Date.parse(extended.lease_expires_at ?? '')).to.be.greaterThan(Date.now() + 590_000);
    await expireLease(t.sql, b.id);
    expect(await heartbeat(t.service.pool, b.id, b.lease_token, 600)).to.deep.equal({ outcome: 'lease_lost', lease_expires_at: null });
    expect(await heartbeat(t.service.pool, a.id, UNKNOWN, 600)).to.deep.equal({ outcome: 'lease_lost', lease_expires_at: null });
    expect(await heartbeat(t.service.pool, UNKNOWN, a.lease_token, 600)).to.deep.equal({ outcome: 'not_found', lease_expires_at: null });
    await expectConsistent(t.sql);
  });

  it('two batch completes of the same 50 jobs in opposite orders never fail, 200 times', async function () {
    this.timeout(300_000);
    const completeMany = (completions: object[]) => t.api.post('/api/v1/jobs/complete').send({ completions });
    const statuses = new Map<number, number>();
    const outcomes = new Map<string, number>();
    for (let round = 0; round < 200; round++) {
      const jobs = await claimed(50);
      const items = jobs.map((j) => ({ id: j.id, lease_token: j.lease_token, result: { round } }));
      const answers = await Promise.all([completeMany(items), completeMany([...items].reverse())]);
      for (const res of answers) {
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        for (const r of res.body.results ?? []) outcomes.set(r.outcome, (outcomes.get(r.outcome) ?? 0) + 1);
      }
    }
    expect(Object.fromEntries(statuses)).to.deep.equal({ 200: 400 });
    // the loser waited, then found each job completed by the same lease: a replay, answered `completed`
    expect(Object.fromEntries(outcomes)).to.deep.equal({ completed: 400 * 50 });
    await expectConsistent(t.sql);
  });

  it('maps a deadlock or serialization failure that still happens to 503 (sent with Retry-After), never 500', () => {
    for (const code of ['40P01', '40001']) {
      const e = toHttpError(Object.assign(new Error('deadlock detected'), { code }));
      expect(e.status, code).to.equal(503);
      expect(e.code).to.equal('database_conflict');
    }
  });
});
