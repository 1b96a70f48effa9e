// pg-boss deletes finished jobs after deleteAfterSeconds (7 days by default) and
// never-finished ones after retentionSeconds (14 days) in its own maintenance. Our
// rows are written with deletion_seconds 0 and keep_until 'infinity' so that
// maintenance never removes a row our `jobs` table still holds. These tests run
// pg-boss's real maintenance over rows aged past both defaults, and over a bloated
// index, which pg-boss as the service starts it reports and does not rebuild.
import { expect } from 'chai';
import type { PgBoss } from 'pg-boss';
import { startBoss, warningDetails } from '../../src/pgboss/boss.ts';
import { captureLogger, client, jobBody, setup, type TestService } from '../support/service.ts';
import { ageJobs } from './support.ts';
import { expectConsistent } from '../support/consistency.ts';

const PROFILE = 'boss-maint';
const QUEUE = `call_analysis/${PROFILE}`;

describe("pg-boss's own maintenance and our rows", () => {
  let t: TestService;
  let api: ReturnType<typeof client>;
  let boss: PgBoss;
  let lines: string[];
  before(async () => {
    // Our purge is off (0 = keep forever) so only pg-boss's maintenance can delete.
    t = await setup({ RETENTION_COMPLETED: '0', RETENTION_FAILED: '0', RETENTION_CANCELLED: '0' });
    api = client(t.api);
    const captured = captureLogger('warn');
    lines = captured.lines;
    boss = await startBoss(t.databaseUrl, captured.logger, { migrate: false, supervise: false });
  });
  after(async () => {
    await boss.stop({ graceful: false, wait: true } as any);
    await t.close();
  });

  /** One maintenance pass over QUEUE now, whatever its last maintenance time. */
  async function runMaintenance() {
    await t.sql.query('UPDATE pgboss.queue SET maintain_on = NULL, monitor_claim_on = NULL WHERE name = $1::text', [QUEUE]);
    await boss.supervise(QUEUE);
  }

  /** pg-boss rows written the way pg-boss's defaults would: they must be deleted. */
  async function insertDefaultRows(): Promise<string[]> {
    const { rows } = await t.sql.query(
      `INSERT INTO pgboss.job (id, name, state, deletion_seconds, keep_until, start_after, created_on, completed_on)
       VALUES (gen_random_uuid(), $1::text, 'completed', 604800, now() + interval '14 days',
               now() - interval '9 days', now() - interval '9 days', now() - interval '8 days'),
              (gen_random_uuid(), $1::text, 'created', 604800, now() - interval '1 day',
               now() - interval '15 days', now() - interval '15 days', NULL)
       RETURNING id`,
      [QUEUE],
    );
    return rows.map((r) => r.id);
  }

  async function settle(status: 'completed' | 'failed') {
    const job = await api.create(jobBody({ model_profile: PROFILE, max_attempts: 1 }));
    const { jobs } = await api.claim({ worker_id: 'w', model_profiles: [PROFILE] });
    const lease_token = jobs[0].lease_token;
    if (status === 'completed') await api.complete(job.id, { lease_token, result: { ok: true } });
    else await api.fail(job.id, { lease_token, category: 'provider_error', message: 'x', retryable: false });
    return job.id as string;
  }

  const filenode = async (index: string) =>
    (await t.sql.query('SELECT relfilenode::int AS n FROM pg_class WHERE oid = $1::regclass', [index])).rows[0].n;

  // First: an instance looks for bloat on its first supervise pass, then once a day.
  it('never rebuilds a bloated job index; logs its bloat warning instead', async () => {
    // 30,000 rows come and go in a queue of pg-boss's own, leaving job_common_pkey at 200+ pages
    // for no live entry: pg-boss's test for bloat (under 5 entries a page, 4x the size its
    // entries need) fires. Written with triggers off, so the service adopts nothing.
    const BLOATED = 'bloat-test';
    await boss.createQueue(BLOATED);
    const c = await t.sql.connect();
    try {
      // SET LOCAL: the pooled connection goes back with its triggers on, whatever happens here
      await c.query('BEGIN; SET LOCAL session_replication_role = replica');
      await c.query(`INSERT INTO pgboss.job (id, name, data) SELECT gen_random_uuid(), $1::text, '{}' FROM generate_series(1, 30000)`, [
        BLOATED,
      ]);
      await c.query('DELETE FROM pgboss.job WHERE name = $1::text', [BLOATED]);
      await c.query('COMMIT');
    } finally {
      c.release();
    }
    await t.sql.query('VACUUM (ANALYZE) pgboss.job_common');
    const before = await filenode('pgboss.job_common_pkey');
    expect((await boss.getReindexCommands()).join('\n'), 'pg-boss itself sees the index as bloated').to.contain('job_common_pkey');

    await t.sql.query('UPDATE pgboss.version SET reindex_on = NULL');
    await boss.supervise(BLOATED);

    expect(await filenode('pgboss.job_common_pkey'), 'the index was not rebuilt').to.equal(before);
    const warning = lines.map((l) => JSON.parse(l)).find((l) => /job_common_pkey.*bloated/.test(l.msg));
    expect(warning, 'the bloat warning is logged').to.not.equal(undefined);
    expect(warning.msg).to.contain('automatic reindexing is disabled');
    expect(warning.pgboss.name).to.contain('job_common_pkey');
  });

  it('keeps finished jobs older than deleteAfterSeconds and pending jobs older than retentionSeconds', async () => {
    const completed = await settle('completed');
    const failed = await settle('failed');
    const cancelled = (await api.create(jobBody({ model_profile: PROFILE }))).id;
    await api.cancel(cancelled);
    // A job that failed once and waits for its retry: pending for us, 'retry' in pg-boss.
    const retrying = (await api.create(jobBody({ model_profile: PROFILE, max_attempts: 2 }))).id;
    const claimed = await api.claim({ worker_id: 'w', model_profiles: [PROFILE] });
    await api.fail(retrying, { lease_token: claimed.jobs[0].lease_token, category: 'provider_error', message: 'x', retryable: true });
    const pending = (await api.create(jobBody({ model_profile: PROFILE }))).id;
    const ours = [completed, failed, cancelled, retrying, pending];
    await ageJobs(t.sql, ours, 30);
    const states = async () =>
      (await t.sql.query('SELECT id, state::text FROM pgboss.job WHERE id = ANY($1::uuid[]) ORDER BY id', [ours])).rows;
    const before = await states();
    expect(before.map((r) => r.state).sort()).to.deep.equal(['cancelled', 'completed', 'created', 'failed', 'retry']);
    const theirs = await insertDefaultRows();

    await runMaintenance();

    // The maintenance really ran: rows with pg-boss's default settings are gone.
    expect((await t.sql.query('SELECT 1 FROM pgboss.job WHERE id = ANY($1::uuid[])', [theirs])).rowCount).to.equal(0);
    expect(await states()).to.deep.equal(before);
    for (const id of ours) await api.get(id);
    await expectConsistent(t.sql, { counters: true });
  });

  it('still lets a worker claim and complete a job pending for longer than 14 days', async () => {
    const job = await api.create(jobBody({ model_profile: PROFILE }));
    await ageJobs(t.sql, [job.id], 20);
    const theirs = await insertDefaultRows();
    await runMaintenance();
    expect((await t.sql.query('SELECT 1 FROM pgboss.job WHERE id = ANY($1::uuid[])', [theirs])).rowCount).to.equal(0);

    const { jobs } = await api.claim({ worker_id: 'w', model_profiles: [PROFILE], limit: 10 });
    const mine = jobs.find((j: { id: string }) => j.id === job.id);
    expect(mine, 'the 20-day-old job is claimable').to.not.equal(undefined);
    const done = await api.complete(job.id, { lease_token: mine.lease_token, result: { ok: true } });
    expect(done.status).to.equal('completed');
    await expectConsistent(t.sql, { counters: true });
  });

  it("logs a pg-boss warning's facts, never a slow query's SQL and values", () => {
    expect(warningDetails({ elapsed: 31.5, sql: 'SELECT $1', values: ['secret input'], query: 'UPDATE ...' })).to.deep.equal({
      elapsed: 31.5,
    });
    expect(warningDetails(undefined)).to.deep.equal({});
  });
});
