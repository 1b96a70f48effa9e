// QUEUE_IDLE_DROP: a queue that has held no job for that long is dropped from
// job_queues and pg-boss; the next job recreates it, also on a replica that still
// knew the queue when another one dropped it.
import { expect } from 'chai';
import { dropIdleQueues } from '../../src/retention/idle-queues.ts';
import { expectConsistent } from '../support/consistency.ts';
import { client, jobBody, setup, useService } from '../support/service.ts';
import { waitUntil } from '../support/wait.ts';

const PROFILE = 'idle-queue';
const QUEUE = `call_analysis/${PROFILE}`;

describe('idle queues', () => {
  const { t, api } = useService({ QUEUE_IDLE_DROP: '300ms', PURGE_INTERVAL: '200ms', RETENTION_CANCELLED: '1ms' });
  const exists = async () => {
    const ours = await t.sql.query('SELECT 1 FROM job_queues WHERE name = $1', [QUEUE]);
    const boss = await t.sql.query('SELECT 1 FROM pgboss.queue WHERE name = $1', [QUEUE]);
    return { ours: ours.rowCount === 1, boss: boss.rowCount === 1 };
  };

  it('drops a queue once its last job is purged and the idle time passed, and recreates it on use', async () => {
    const job = await api.create(jobBody({ model_profile: PROFILE }));
    await api.cancel(job.id);
    await waitUntil(async () => !(await exists()).ours, { what: 'the idle queue to be dropped', timeoutMs: 20_000 });
    expect(await exists()).to.deep.equal({ ours: false, boss: false });
    // this replica's QueueRegistry still knows the queue: the create recreates it
    const again = await api.create(jobBody({ model_profile: PROFILE }));
    expect(await exists()).to.deep.equal({ ours: true, boss: true });
    const [claimed] = (await api.claim({ worker_id: 'w', model_profiles: [PROFILE] })).jobs;
    expect(claimed.id).to.equal(again.id);
    await api.complete(again.id, { lease_token: claimed.lease_token, result: {} });
    await expectConsistent(t.sql);
  });

  it('keeps a queue that holds a job, however long ago it was first found empty', async () => {
    const other = await setup({ QUEUE_IDLE_DROP: '0', PURGE_INTERVAL: '1h' });
    try {
      const api2 = client(other.api);
      await api2.create(jobBody({ model_profile: 'busy-queue' }));
      await other.sql.query(`UPDATE job_queues SET empty_since = now() - interval '1 day' WHERE name = 'call_analysis/busy-queue'`);
      expect(await dropIdleQueues(other.service.pool, 1)).to.deep.equal([]);
      const { rows } = await other.sql.query(`SELECT empty_since FROM job_queues WHERE name = 'call_analysis/busy-queue'`);
      expect(rows).to.deep.equal([{ empty_since: null }]);
    } finally {
      await other.close();
    }
  });
});
