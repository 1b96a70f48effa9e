import { expect } from 'chai';
import { jobBody, useService } from '../support/service.ts';
import { readmeSql } from './helpers.ts';
import { waitFor } from '../support/wait.ts';
import { fillQueue } from './scenario.ts';

describe('ops SQL over pg-boss tables (src/db/README.md section ops-sql)', () => {
  const { t, api } = useService();

  it('agrees with /api/v1/stats on every queue and state', async () => {
    await fillQueue(api, 'call_analysis', 'ops-a');
    await fillQueue(api, 'transcription', 'ops-b');
    // More paths into the same states: an operator retry, a retry after a failure,
    // a cancelled running job, an expired lease put back to pending by the reaper.
    const { jobs } = await api.claim({ worker_id: 'w', model_profiles: ['ops-a'], limit: 2 });
    await api.fail(jobs[0].id, {
      lease_token: jobs[0].lease_token,
      category: 'provider_unavailable',
      message: 'x',
      retry_after_seconds: 3600,
    });
    await api.cancel(jobs[1].id);
    const failed = (await api.list({ model_profile: 'ops-b', status: 'failed' })).jobs[0];
    await api.retry(failed.id, { delay_seconds: 3600 });
    const leased = await api.create(jobBody({ task_type: 'summary', model_profile: 'ops-c' }));
    await api.claim({ worker_id: 'w', model_profiles: ['ops-c'], lease_seconds: 1 });
    await waitFor('the reaper', async () => ((await api.get(leased.id)).status === 'pending' ? true : undefined));

    const stats = await api.stats();
    const { rows } = await t.sql.query(readmeSql('ops-sql')[0]);
    const fromStats = stats.queues.map((q: any) => ({
      queue: q.queue,
      ready: q.ready,
      delayed: q.delayed,
      active: q.running,
      completed: q.completed,
      failed: q.failed,
      cancelled: q.cancelled,
    }));
    expect(rows).to.have.length(3);
    expect(rows).to.deep.equal(fromStats);
    // The scenario reached every state somewhere, so the comparison covers them all.
    for (const k of ['ready', 'delayed', 'active', 'completed', 'failed', 'cancelled'])
      expect(
        rows.some((r) => r[k] > 0),
        k,
      ).to.equal(true);
  });

  it('runs the other documented queries, and finds the two stores in step', async () => {
    // ops-a has no ready job left: the claim above took both.
    const statements = readmeSql('ops-sql')[1]
      .split(/;\s*\n/)
      .map((s) => s.trim())
      .filter((s) => s.replace(/--.*$/gm, '').trim());
    expect(statements).to.have.length(4);
    const results = [];
    for (const s of statements) results.push(await t.sql.query(s));
    expect(results[1].rows.map((r) => r.queue).sort()).to.deep.equal(['summary/ops-c', 'transcription/ops-b']);
    expect(results[2].rows.map((r) => r.category).sort()).to.include.members(['invalid_input', 'lease_expired', 'provider_unavailable']);
    expect(results[3].rows).to.deep.equal([]);
  });
});
