import { expect } from 'chai';
import { jobBody, type TestService, useService } from '../support/service.ts';
import { expectProblem } from './helpers.ts';
import { expectConsistent } from '../support/consistency.ts';

const DEFAULTS = { owner_service: 'telephony', task_type: 'transcribe', model_profile: 'whisperx' };

async function countJobs(t: TestService, where = 'true'): Promise<number> {
  const { rows } = await t.sql.query(
    `SELECT (SELECT count(*) FROM jobs WHERE ${where})::int AS j, (SELECT count(*) FROM pgboss.job)::int AS b`,
  );
  return rows[0].j;
}

describe('batch create', () => {
  const { t, api } = useService();

  it('merges each item over the defaults and returns 201 with the jobs in request order', async () => {
    const items = Array.from({ length: 5 }, (_, i) => ({ owner_ref: `beeline/call-${i}`, input: { n: i } }));
    items[2] = { ...items[2], model_profile: 'whisperx-large', priority: 7 } as any;
    const { jobs } = await api.batch({ defaults: { ...DEFAULTS, priority: 1 }, jobs: items });
    expect(jobs.map((j: any) => j.owner_ref)).to.deep.equal(items.map((i) => i.owner_ref));
    expect(jobs.map((j: any) => j.input.n)).to.deep.equal([0, 1, 2, 3, 4]);
    expect(jobs[0]).to.include({ ...DEFAULTS, priority: 1, status: 'pending' });
    expect(jobs[2]).to.include({ model_profile: 'whisperx-large', priority: 7 });
    await expectConsistent(t.sql);
  });

  it('accepts 1 and 1000 items; rejects 0 and 1001 with 400', async () => {
    const item = (i: number) => ({ owner_ref: `limit/${i}`, input: {} });
    expect((await api.batch({ defaults: DEFAULTS, jobs: [item(0)] })).jobs).to.have.length(1);
    const big = await api.batch({ defaults: DEFAULTS, jobs: Array.from({ length: 1000 }, (_, i) => item(i)) });
    expect(big.jobs).to.have.length(1000);
    expect(new Set(big.jobs.map((j: any) => j.id)).size).to.equal(1000);
    const before = await countJobs(t);
    expectProblem(await api.batch({ defaults: DEFAULTS, jobs: [] }, 400), 'validation_failed');
    const over = await api.batch({ defaults: DEFAULTS, jobs: Array.from({ length: 1001 }, (_, i) => item(i)) }, 400);
    expectProblem(over, 'validation_failed');
    expect(await countJobs(t)).to.equal(before);
  });

  it('writes nothing when items are malformed, naming every bad item by index and field', async () => {
    const before = await countJobs(t);
    const err = await api.batch(
      {
        defaults: DEFAULTS,
        jobs: [
          { owner_ref: 'ok/0', input: {} },
          { owner_ref: 'ok/1', input: 'not an object' },
          { owner_ref: 'ok/2', input: {} },
          { owner_ref: 'ok/3', input: {}, task_type: 'not a slug' },
        ],
      },
      400,
    );
    expectProblem(err, 'validation_failed');
    const paths = err.errors.map((e: any) => e.path);
    expect(paths).to.include.members(['/body/jobs/1/input', '/body/jobs/3/task_type']);
    expect(paths.some((p: string) => /^\/body\/jobs\/[02]\//.test(p))).to.equal(false);
    expect(await countJobs(t)).to.equal(before);
  });

  it('writes nothing when merged items lack required fields, naming each', async () => {
    const before = await countJobs(t);
    const err = await api.batch(
      {
        defaults: { owner_service: 'telephony', task_type: 'transcribe' },
        jobs: [
          { owner_ref: 'ok/0', input: {}, model_profile: 'whisperx' },
          { owner_ref: 'ok/1', input: {} },
          { input: {}, model_profile: 'whisperx' },
        ],
      },
      400,
    );
    expect(err.errors.map((e: any) => e.path)).to.have.members(['/body/jobs/1/model_profile', '/body/jobs/2/owner_ref']);
    expect(await countJobs(t)).to.equal(before);
  });

  it('rejects unknown fields in items or defaults with 400', async () => {
    const err = await api.batch({ defaults: DEFAULTS, jobs: [{ owner_ref: 'x', input: {}, colour: 'red' }] }, 400);
    expect(err.errors.map((e: any) => e.path).join()).to.include('/body/jobs/0');
    await api.batch({ defaults: { ...DEFAULTS, colour: 'red' }, jobs: [{ owner_ref: 'x', input: {} }] }, 400);
  });

  it('names the item whose input contains U+0000 and writes nothing', async () => {
    const before = await countJobs(t);
    const err = await api.batch(
      {
        defaults: DEFAULTS,
        jobs: [
          { owner_ref: 'a', input: {} },
          { owner_ref: 'b', input: { text: 'nul\u0000here' } },
        ],
      },
      400,
    );
    expect(err.errors.map((e: any) => e.path)).to.deep.equal(['/body/jobs/1/input/text']);
    expect(await countJobs(t)).to.equal(before);
  });

  it('replays idempotent items as a single create would, creating only the new ones', async () => {
    const keyed = (k: string, n: number) => ({ owner_ref: `idem/${k}`, idempotency_key: k, input: { n } });
    const first = await api.batch({ defaults: DEFAULTS, jobs: [keyed('k1', 1), keyed('k2', 2)] });
    const second = await api.batch({ defaults: DEFAULTS, jobs: [keyed('k0', 0), keyed('k2', 2), keyed('k1', 1)] });
    expect(second.jobs[1]).to.deep.equal(first.jobs[1]);
    expect(second.jobs[2]).to.deep.equal(first.jobs[0]);
    expect(second.jobs[0].idempotency_key).to.equal('k0');
    expect(await countJobs(t, `idempotency_key IN ('k0', 'k1', 'k2')`)).to.equal(3);
    // a single create replays a batch-created job too
    const single = await api.create({ ...DEFAULTS, ...keyed('k1', 1) }, 200);
    expect(single.id).to.equal(first.jobs[0].id);
  });

  it('fails the whole batch with 409 when one keyed item conflicts, rolling back the new items', async () => {
    await api.batch({ defaults: DEFAULTS, jobs: [{ owner_ref: 'c/1', idempotency_key: 'c1', input: { v: 1 } }] });
    const before = await countJobs(t);
    const err = await api.batch(
      {
        defaults: DEFAULTS,
        jobs: [
          { owner_ref: 'c/new', idempotency_key: 'c-new', input: {} },
          { owner_ref: 'c/1', idempotency_key: 'c1', input: { v: 2 } },
        ],
      },
      409,
    );
    expectProblem(err, 'idempotency_conflict');
    expect(await countJobs(t)).to.equal(before);
    expect(await countJobs(t, `idempotency_key = 'c-new'`)).to.equal(0);
    await expectConsistent(t.sql);
  });

  it('returns one job for a key repeated inside one batch', async () => {
    const item = { owner_ref: 'dup/1', idempotency_key: 'dup-in-batch', input: {} };
    const { jobs } = await api.batch({ defaults: DEFAULTS, jobs: [item, item] });
    expect(jobs[0].id).to.equal(jobs[1].id);
    expect(await countJobs(t, `idempotency_key = 'dup-in-batch'`)).to.equal(1);
  });

  it('rejects a batch whose item input is over the size limit with 413', async () => {
    const before = await countJobs(t);
    const big = 'x'.repeat(1024 * 1024);
    const err = await api.batch(
      {
        defaults: DEFAULTS,
        jobs: [
          { owner_ref: 'a', input: {} },
          { owner_ref: 'b', input: { big } },
        ],
      },
      413,
    );
    expectProblem(err, 'too_large');
    expect(err.detail).to.include('/body/jobs/1/input');
    expect(await countJobs(t)).to.equal(before);
  });

  it('works without defaults', async () => {
    const { jobs } = await api.batch({ jobs: [jobBody(), jobBody()] });
    expect(jobs).to.have.length(2);
  });
});
