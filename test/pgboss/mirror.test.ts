// The pg-boss mirror module against what the database holds: the row it describes
// for a new job is the row the create statement wrote, the state mapping is the one
// the lifecycle produces, and the webhook outbox trigger inserts the columns the
// module lists for it.
import { expect } from 'chai';
import { BOSS_INSERT_COLUMNS, bossJobInsert, bossStateFor, OUTBOX_INSERT_COLUMNS, PGBOSS_SCHEMA } from '../../src/pgboss/mirror.ts';
import { jobBody, useService } from '../support/service.ts';

describe('pg-boss mirror (src/pgboss/mirror.ts)', () => {
  const { t, api } = useService({ REAPER_INTERVAL: '1h' });

  async function stored(id: string) {
    const { rows } = await t.sql.query(`SELECT *, state::text FROM ${PGBOSS_SCHEMA}.job WHERE id = $1::uuid`, [id]);
    return rows[0];
  }

  it('describes the pg-boss row of a new job as the create statement writes it', async () => {
    const job = await api.create(jobBody({ priority: 3, max_attempts: 4 }));
    const { rows } = await t.sql.query('SELECT queue FROM jobs WHERE id = $1::uuid', [job.id]);
    const expected = bossJobInsert({ ...job, queue: rows[0].queue });
    const row = await stored(job.id);
    const actual = Object.fromEntries(BOSS_INSERT_COLUMNS.map((c) => [c, row[c]]));
    // timestamps are compared with the job's own, in the API's text form
    expect(actual).to.deep.equal({ ...expected, start_after: row.start_after, created_on: row.created_on });
    expect([row.start_after, row.created_on]).to.deep.equal([job.run_after, job.created_at]);
  });

  it('maps each status to the state the lifecycle leaves in pg-boss', async () => {
    const profile = 'mirror-states';
    const job = await api.create(jobBody({ model_profile: profile, max_attempts: 2 }));
    expect((await stored(job.id)).state).to.equal(bossStateFor('pending', true));
    const claim = async () => (await api.claim({ worker_id: 'w', model_profiles: [profile] })).jobs[0];
    let c = await claim();
    expect((await stored(job.id)).state).to.equal(bossStateFor('running'));
    await api.fail(job.id, { lease_token: c.lease_token, category: 'x', message: 'y', retry_after_seconds: 0 });
    expect((await stored(job.id)).state).to.equal(bossStateFor('pending'));
    c = await claim();
    await api.complete(job.id, { lease_token: c.lease_token, result: {} });
    expect((await stored(job.id)).state).to.equal(bossStateFor('completed'));
    const other = await api.create(jobBody({ model_profile: profile }));
    await api.cancel(other.id);
    expect((await stored(other.id)).state).to.equal(bossStateFor('cancelled'));
  });

  it('the webhook outbox trigger inserts the columns the module lists for it', async () => {
    const { rows } = await t.sql.query(`SELECT pg_get_functiondef('jobs_enqueue_webhook'::regproc) AS def`);
    const m = /INSERT INTO (\w+)\.job \(([^)]*)\)/.exec(rows[0].def);
    expect(m, 'the trigger inserts into a pg-boss job table').to.not.equal(null);
    expect(m?.[1]).to.equal(PGBOSS_SCHEMA);
    expect(m?.[2].split(',').map((c) => c.trim())).to.deep.equal([...OUTBOX_INSERT_COLUMNS]);
  });
});
