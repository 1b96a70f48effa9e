import { expect } from 'chai';
import { jobBody, useService } from '../support/service.ts';
import { bossRow, expectProblem, expireLease, jobRow } from './helpers.ts';
import { expectConsistent } from '../support/consistency.ts';

describe('batch complete (POST /api/v1/jobs/complete)', () => {
  const { t, api } = useService({ REAPER_INTERVAL: '1h' });
  let n = 0;

  async function claimed(count: number) {
    const profile = `batch-complete-${++n}`;
    await api.batch({ jobs: Array.from({ length: count }, () => jobBody({ model_profile: profile })) });
    const { jobs } = await api.claim({ worker_id: 'w', model_profiles: [profile], limit: count });
    expect(jobs).to.have.length(count);
    return jobs as { id: string; lease_token: string }[];
  }
  const completeMany = (completions: object[], status = 200) => t.api.post('/api/v1/jobs/complete').send({ completions }).expect(status);

  it('completes every job in one request, in both stores, answering in request order', async () => {
    const jobs = await claimed(50);
    const res = await completeMany(jobs.map((j, i) => ({ id: j.id, lease_token: j.lease_token, result: { i } })));
    expect(res.body.results).to.deep.equal(jobs.map((j) => ({ id: j.id, outcome: 'completed' })));
    for (const [i, j] of jobs.entries()) {
      expect(await jobRow(t.sql, j.id)).to.include({ status: 'completed' });
      expect((await jobRow(t.sql, j.id)).result).to.deep.equal({ i });
      expect((await bossRow(t.sql, j.id)).state).to.equal('completed');
    }
    await expectConsistent(t.sql);
  });

  it('judges each item on its own: a replay is completed, a stale lease lost, an unknown id not found', async () => {
    const [a, b, c] = await claimed(3);
    await api.complete(a.id, { lease_token: a.lease_token, result: { first: true } });
    await expireLease(t.sql, b.id);
    const unknown = '01936f5e-8a4b-7c2d-9e1f-0a1b2c3d4e5f';
    const res = await completeMany([
      { id: a.id, lease_token: a.lease_token, result: { again: true } },
      { id: b.id, lease_token: b.lease_token, result: {} },
      { id: c.id, lease_token: c.lease_token, result: { ok: 1 } },
      { id: unknown, lease_token: c.lease_token, result: {} },
    ]);
    expect(res.body.results.map((r: { outcome: string }) => r.outcome)).to.deep.equal([
      'completed',
      'lease_lost',
      'completed',
      'not_found',
    ]);
    // the replay did not overwrite the first result; the lost lease changed nothing
    expect((await jobRow(t.sql, a.id)).result).to.deep.equal({ first: true });
    expect(await jobRow(t.sql, b.id)).to.include({ status: 'running' });
    await expectConsistent(t.sql);
  });

  it('rejects duplicates, more than 100 items, and oversized results, writing nothing', async () => {
    const [a] = await claimed(1);
    const item = { id: a.id, lease_token: a.lease_token, result: {} };
    expectProblem((await completeMany([item, item], 400)).body, 'validation_failed');
    expectProblem(
      (
        await completeMany(
          Array.from({ length: 101 }, () => item),
          400,
        )
      ).body,
      'validation_failed',
    );
    const big = { ...item, result: { text: 'x'.repeat(1024 * 1024 + 1) } };
    expectProblem((await completeMany([big], 413)).body, 'too_large');
    expect(await jobRow(t.sql, a.id)).to.include({ status: 'running' });
  });
});
