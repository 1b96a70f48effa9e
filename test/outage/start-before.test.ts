// start_before: a job not claimed by its deadline is never handed to a worker, and
// the leader cancels it with error category `expired` in both stores; the status
// trigger's webhook job.cancelled reaches the receiver.
import { expect } from 'chai';
import { startReceiver } from '../webhooks/receiver.ts';
import { bossRow, claimBody, jobRow } from '../jobs/helpers.ts';
import { expectConsistent } from '../support/consistency.ts';
import { jobBody, useService } from '../support/service.ts';
import { waitFor } from '../support/wait.ts';

describe('start_before: deadlines for work that goes stale', () => {
  const { t, api } = useService({
    WEBHOOK_SECRET: 'test-secret-0123456789',
    WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
    WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true',
    WEBHOOK_POLL_INTERVAL: '20ms',
  });

  it('a job past start_before is never claimed, becomes cancelled/expired in both stores, and fires job.cancelled', async () => {
    const receiver = await startReceiver();
    try {
      // The deadline is set in the past by SQL, so no claim can race the expiry pass.
      const job = await api.create(
        jobBody({ model_profile: 'deadline', start_before: new Date(Date.now() + 3_600_000).toISOString(), callback_url: receiver.url }),
      );
      expect(Date.parse(job.start_before)).to.be.greaterThan(Date.now());
      await t.sql.query(`UPDATE jobs SET start_before = now() - interval '1 ms' WHERE id = $1::uuid`, [job.id]);
      expect((await api.claim(claimBody({ model_profiles: ['deadline'] }))).jobs).to.have.length(0);
      const expired = await waitFor('the expiry pass', async () => {
        const j = await api.get(job.id);
        return j.status === 'cancelled' ? j : undefined;
      });
      expect(expired.error).to.deep.equal({ category: 'expired', message: 'not claimed before start_before' });
      expect(await bossRow(t.sql, job.id)).to.include({ state: 'cancelled' });
      const [hook] = await receiver.waitFor(1);
      const payload = JSON.parse(hook.body);
      expect(payload.type).to.equal('job.cancelled');
      expect(payload.data).to.include({ id: job.id, status: 'cancelled' });
      await expectConsistent(t.sql);
    } finally {
      await receiver.close();
    }
  });

  it('a job claimed before its deadline is left alone', async () => {
    const job = await api.create(jobBody({ model_profile: 'deadline-ok', start_before: new Date(Date.now() + 60_000).toISOString() }));
    const { jobs } = await api.claim(claimBody({ model_profiles: ['deadline-ok'] }));
    expect(jobs.map((j: { id: string }) => j.id)).to.deep.equal([job.id]);
    await t.sql.query(`UPDATE jobs SET start_before = now() - interval '1 ms' WHERE id = $1::uuid`, [job.id]);
    await api.complete(job.id, { lease_token: jobs[0].lease_token, result: {} });
    expect(await jobRow(t.sql, job.id)).to.include({ status: 'completed' });
    await expectConsistent(t.sql);
  });

  it('expires many jobs in batches', async () => {
    const soon = new Date(Date.now() + 3_600_000).toISOString();
    await api.batch({
      defaults: { start_before: soon },
      jobs: Array.from({ length: 600 }, () => jobBody({ model_profile: 'deadline-many' })),
    });
    await t.sql.query(`UPDATE jobs SET start_before = now() WHERE model_profile = 'deadline-many'`);
    await waitFor('all 600 expired', async () => {
      const { rows } = await t.sql.query(
        `SELECT count(*)::int AS n FROM jobs WHERE model_profile = 'deadline-many' AND status = 'cancelled'`,
      );
      return rows[0].n === 600;
    });
    await expectConsistent(t.sql);
  });

  it('a malformed start_before is 400 naming the field', async () => {
    const res = await t.api.post('/api/v1/jobs').send(jobBody({ start_before: 'tomorrow' }));
    expect(res.status).to.equal(400);
    expect(JSON.stringify(res.body.errors)).to.contain('start_before');
  });
});
