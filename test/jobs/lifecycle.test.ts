import { expect } from 'chai';
import { jobBody, useService } from '../support/service.ts';

describe('job lifecycle', () => {
  const { t, api } = useService();
  afterEach(function () {
    if (this.currentTest?.state === 'failed')
      console.log(
        t.logs
          .filter((l) => l.includes('"level":50'))
          .join('\n')
          .slice(0, 3000),
      );
  });

  it('creates, claims and completes a job, writing both stores', async () => {
    const job = await api.create(jobBody());
    expect(job.status).to.equal('pending');
    const { jobs } = await api.claim({ worker_id: 'w1', model_profiles: ['qwen2.5-14b'] });
    expect(jobs).to.have.length(1);
    expect(jobs[0].id).to.equal(job.id);
    expect(jobs[0].attempt).to.equal(1);
    const boss = await t.sql.query('SELECT state, retry_count FROM pgboss.job WHERE id = $1', [job.id]);
    expect(boss.rows[0]).to.deep.equal({ state: 'active', retry_count: 0 });
    const done = await api.complete(job.id, { lease_token: jobs[0].lease_token, result: { content: 'ok' } });
    expect(done.status).to.equal('completed');
    expect(done.result).to.deep.equal({ content: 'ok' });
    const after = await t.sql.query('SELECT state FROM pgboss.job WHERE id = $1', [job.id]);
    expect(after.rows[0].state).to.equal('completed');
  });
});
