import { expect } from 'chai';
import { given } from '../support/factory.ts';
import { useService } from '../support/service.ts';
import { waitFor } from '../support/wait.ts';
import { expectProblem } from './helpers.ts';

describe('progress reports', () => {
  const { t, api } = useService();
  const report = (id: string, body: object, status = 202) =>
    t.api
      .post(`/api/v1/jobs/${id}/progress`)
      .send(body)
      .then((res) => {
        expect(res.status, JSON.stringify(res.body)).to.equal(status);
        return res.body;
      });
  const progressEvents = async (id: string) =>
    (await t.sql.query(`SELECT data FROM job_events WHERE job_id = $1::uuid AND kind = 'progress'`, [id])).rows;

  it('stores a report on the held lease and shows it on GET, without touching the lease or attempts', async () => {
    const job = await given.job(t, { status: 'running' });
    const before = await api.get(job.id);
    expect(before.progress).to.equal(null);
    expect(
      await report(job.id, { lease_token: job.lease_token, fraction: 0.25, message: 'transcribing', output: { text: 'Hel' } }),
    ).to.deep.equal({
      id: job.id,
      stored: true,
    });
    const after = await api.get(job.id);
    expect(after.progress).to.include({ fraction: 0.25, message: 'transcribing' });
    expect(after.progress.output).to.deep.equal({ text: 'Hel' });
    expect(after.lease_expires_at).to.equal(before.lease_expires_at);
    expect(after.attempts).to.equal(before.attempts);
  });

  it('coalesces a burst to at most 2 stored writes per second, the latest winning', async () => {
    const job = await given.job(t, { status: 'running' });
    const started = Date.now();
    const answers = [];
    for (let i = 1; i <= 20; i++)
      answers.push(await report(job.id, { lease_token: job.lease_token, fraction: i / 20, message: `step ${i}` }));
    expect(answers[0].stored).to.equal(true);
    expect(answers.slice(1).filter((a) => a.stored).length, 'stored within the first window').to.be.at.most(
      Math.ceil((Date.now() - started) / 500),
    );
    // The last report is written when its window ends.
    const latest = await waitFor('the latest report stored', async () => {
      const p = (await api.get(job.id)).progress;
      return p.message === 'step 20' && p;
    });
    expect(latest.fraction).to.equal(1);
    const { rows } = await t.sql.query(`SELECT count(*)::int AS n FROM job_events WHERE job_id = $1::uuid AND kind = 'progress'`, [job.id]);
    expect(rows[0].n, 'older progress events are dropped from the log').to.equal(1);
  });

  it('keeps fields a report leaves out', async () => {
    const job = await given.job(t, { status: 'running' });
    await report(job.id, { lease_token: job.lease_token, fraction: 0.1, output: { text: 'a' } });
    await report(job.id, { lease_token: job.lease_token, message: 'later' });
    const p = await waitFor('the coalesced report stored', async () => {
      const progress = (await api.get(job.id)).progress;
      return progress.message === 'later' && progress;
    });
    expect(p).to.include({ fraction: 0.1, message: 'later' });
    expect(p.output).to.deep.equal({ text: 'a' });
  });

  it('answers 409 lease_lost for a stale token, also inside a coalescing window', async () => {
    const job = await given.job(t, { status: 'running' });
    expectProblem(await report(job.id, { lease_token: '00000000-0000-4000-8000-000000000000', fraction: 0.5 }, 409), 'lease_lost');
    await report(job.id, { lease_token: job.lease_token, fraction: 0.5 });
    expectProblem(await report(job.id, { lease_token: '00000000-0000-4000-8000-000000000000', fraction: 0.6 }, 409), 'lease_lost');
  });

  it('answers 404 for an unknown job and 400 naming the field for bad values', async () => {
    const job = await given.job(t, { status: 'running' });
    expectProblem(await report('0193aaaa-0000-7000-8000-000000000000', { lease_token: job.lease_token }, 404), 'not_found');
    const bad = await report(job.id, { lease_token: job.lease_token, fraction: 1.5 }, 400);
    expect(bad.errors[0].path).to.equal('/body/fraction');
    const long = await report(job.id, { lease_token: job.lease_token, message: 'x'.repeat(501) }, 400);
    expect(long.errors[0].path).to.equal('/body/message');
    const big = await report(job.id, { lease_token: job.lease_token, output: { text: 'x'.repeat(64 * 1024) } }, 413);
    expect(big.detail).to.match(/output/);
  });

  it('keeps the progress of a finished job readable', async () => {
    const job = await given.job(t, { status: 'running' });
    await report(job.id, { lease_token: job.lease_token, fraction: 0.9, message: 'almost' });
    await api.complete(job.id, { lease_token: job.lease_token, result: { ok: true } });
    expect((await api.get(job.id)).progress).to.include({ fraction: 0.9, message: 'almost' });
    expect(await progressEvents(job.id)).to.have.length(1);
  });

  it('stores a report still coalescing before the job is completed, ahead of the status change', async () => {
    const job = await given.job(t, { status: 'running' });
    await report(job.id, { lease_token: job.lease_token, fraction: 0.5, message: 'half' });
    expect((await report(job.id, { lease_token: job.lease_token, fraction: 1, message: 'done' })).stored).to.equal(false);
    await api.complete(job.id, { lease_token: job.lease_token, result: {} });
    expect((await api.get(job.id)).progress).to.include({ fraction: 1, message: 'done' });
    const { rows } = await t.sql.query(`SELECT kind, data ->> 'status' AS status FROM job_events WHERE job_id = $1::uuid ORDER BY id`, [
      job.id,
    ]);
    expect(rows.map((r) => r.status ?? r.kind)).to.deep.equal(['running', 'progress', 'completed']);
  });
});
