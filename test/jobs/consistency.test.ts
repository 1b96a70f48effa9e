// scripts/consistency.sql finds each kind of disagreement between `jobs`,
// pgboss.job and job_attempts, and `npm run check:consistency` exits 1 on any.
import { expect } from 'chai';
import type pg from 'pg';
import { SERVICE_APPLICATION_NAME } from '../../src/db/pool.ts';
import { findViolations } from '../../scripts/check-consistency.ts';
import { runConsistencyCli } from '../support/consistency.ts';
import { jobBody, useService } from '../support/service.ts';
import { RESULT } from './helpers.ts';

describe('consistency check', () => {
  const { t, api } = useService({ REAPER_INTERVAL: '1h' });
  const ids: Record<'pending' | 'running' | 'completed', string> = { pending: '', running: '', completed: '' };
  before(async () => {
    const profile = 'consistency';
    const a = await api.create(jobBody({ model_profile: profile }));
    const b = await api.create(jobBody({ model_profile: profile }));
    const [ca] = (await api.claim({ worker_id: 'w', model_profiles: [profile] })).jobs;
    await api.complete(ca.id, { lease_token: ca.lease_token, result: RESULT });
    await api.claim({ worker_id: 'w', model_profiles: [profile] });
    ids.completed = a.id;
    ids.running = b.id;
    ids.pending = (await api.create(jobBody({ model_profile: profile }))).id;
  });

  /** Applies `sql` in a transaction, returns the violations seen inside it, rolls back. */
  async function violationsAfter(sql: string, values: unknown[] = []) {
    const c: pg.PoolClient = await t.sql.connect();
    try {
      await c.query('BEGIN');
      await c.query(sql, values);
      return (await findViolations(c)).map((v) => [v.violation, v.job_id]);
    } finally {
      await c.query('ROLLBACK');
      c.release();
    }
  }

  it('finds nothing in a database the API wrote', async () => {
    expect(await findViolations(t.sql)).to.deep.equal([]);
  });

  const cases: [string, keyof typeof ids, string][] = [
    ['missing_in_pgboss', 'pending', 'DELETE FROM pgboss.job WHERE id = $1::uuid'],
    ['state_mismatch', 'pending', `UPDATE pgboss.job SET state = 'active' WHERE id = $1::uuid`],
    ['state_mismatch', 'pending', `UPDATE pgboss.job SET start_after = start_after + interval '1 minute' WHERE id = $1::uuid`],
    ['state_mismatch', 'running', 'UPDATE pgboss.job SET retry_count = 1 WHERE id = $1::uuid'],
    ['state_mismatch', 'completed', `UPDATE pgboss.job SET state = 'failed' WHERE id = $1::uuid`],
    ['pending_without_attempts', 'pending', 'UPDATE jobs SET attempts = max_attempts WHERE id = $1::uuid'],
    [
      'attempts_exceeded',
      'completed',
      'ALTER TABLE jobs DROP CONSTRAINT jobs_check; UPDATE jobs SET attempts = max_attempts + 1 WHERE id = $1::uuid',
    ],
    [
      'completed_twice',
      'completed',
      `INSERT INTO job_attempts (job_id, attempt, worker_id, lease_token, lease_expires_at, outcome)
       VALUES ($1::uuid, 2, 'w', gen_random_uuid(), now(), 'completed')`,
    ],
    ['completed_without_lease', 'completed', 'UPDATE jobs SET lease_token = gen_random_uuid() WHERE id = $1::uuid'],
    ['running_without_lease', 'running', `UPDATE job_attempts SET outcome = 'revoked' WHERE job_id = $1::uuid`],
    ['lease_overdue', 'running', `UPDATE jobs SET lease_expires_at = now() - interval '2 minutes' WHERE id = $1::uuid`],
    [
      'stray_open_attempt',
      'completed',
      `INSERT INTO job_attempts (job_id, attempt, worker_id, lease_token, lease_expires_at)
       VALUES ($1::uuid, 2, 'w', gen_random_uuid(), now())`,
    ],
    ['job_keys_mismatch', 'pending', 'DELETE FROM job_keys WHERE job_id = $1::uuid'],
    ['job_keys_mismatch', 'completed', `UPDATE job_keys SET owner_ref = 'elsewhere' WHERE job_id = $1::uuid`],
    ['job_keys_mismatch', 'running', `UPDATE job_keys SET idempotency_key = 'other' WHERE job_id = $1::uuid`],
  ];
  for (const [violation, which, sql] of cases) {
    it(`reports ${violation} (${which} job: ${sql.split('\n')[0].slice(0, 70)})`, async () => {
      // ALTER TABLE cannot take parameters alongside another statement: inline the id
      const text = sql.includes(';') ? sql.replace('$1::uuid', `'${ids[which]}'::uuid`) : sql;
      const found = await violationsAfter(text, sql.includes(';') ? [] : [ids[which]]);
      expect(found).to.deep.equal([[violation, ids[which]]]);
    });
  }

  it('reports a pgboss.job row in our queue without a jobs row', async () => {
    const orphan = crypto.randomUUID();
    const found = await violationsAfter(
      `INSERT INTO pgboss.job (id, name, data, state, start_after, keep_until)
       VALUES ($1::uuid, 'call_analysis/consistency', '{}', 'created', now(), 'infinity')`,
      [orphan],
    );
    expect(found).to.deep.equal([['orphan_in_pgboss', orphan]]);
  });

  it('reports rows left behind by a job that is gone (job_attempts, job_events, job_progress, job_keys, webhook_deliveries)', async () => {
    const gone = crypto.randomUUID();
    const found = await violationsAfter(
      `WITH a AS (INSERT INTO job_attempts (job_id, attempt, worker_id, lease_token, lease_expires_at, outcome)
                  VALUES ($1::uuid, 1, 'w', gen_random_uuid(), now(), 'completed')),
            e AS (INSERT INTO job_events (job_id, kind, data) VALUES ($1::uuid, 'status', '{}')),
            p AS (INSERT INTO job_progress (job_id, fraction) VALUES ($1::uuid, 0.5)),
            k AS (INSERT INTO job_keys (job_id, owner_service, owner_ref) VALUES ($1::uuid, 'gone', 'gone'))
       INSERT INTO webhook_deliveries (job_id, event, url, payload) VALUES ($1::uuid, 'completed', 'http://127.0.0.1/', '{}')`,
      [gone],
    );
    expect(found).to.deep.equal([
      ['orphan_row', gone],
      ['orphan_row', gone],
      ['orphan_row', gone],
      ['orphan_row', gone],
      ['orphan_row', gone],
    ]);
  });

  it("drops a job's job_keys row with the job, whoever deletes or truncates it", async () => {
    const c: pg.PoolClient = await t.sql.connect();
    const keys = async () => Number((await c.query('SELECT count(*) AS n FROM job_keys')).rows[0].n);
    try {
      await c.query('BEGIN');
      const before = await keys();
      await c.query('DELETE FROM jobs WHERE id = $1::uuid', [ids.completed]);
      expect(await keys()).to.equal(before - 1);
      await c.query('TRUNCATE jobs');
      expect(await keys()).to.equal(0);
    } finally {
      await c.query('ROLLBACK');
      c.release();
    }
  });

  it('runs from the command line: exit 0 when consistent, 1 listing violations otherwise', async () => {
    const ok = await runConsistencyCli(t.databaseUrl);
    expect(ok.code, ok.out).to.equal(0);
    expect(ok.out).to.include('consistent');
    expect(ok.out).to.not.include('ai-service-local'); // the password is masked
    // Written as the service's own connection would (application_name ai-service), so the
    // leader's adoption of changes made through pg-boss does not repair it first.
    const asService = (state: string) =>
      t.sql.query(
        `WITH n AS (SELECT set_config('application_name', $3::text, true))
         UPDATE pgboss.job SET state = $2::pgboss.job_state FROM n WHERE id = $1::uuid`,
        [ids.pending, state, SERVICE_APPLICATION_NAME],
      );
    await asService('cancelled');
    try {
      const bad = await runConsistencyCli(t.databaseUrl);
      expect(bad.code, bad.out).to.equal(1);
      expect(bad.out).to.include('state_mismatch: 1');
      expect(bad.out).to.include(ids.pending);
    } finally {
      await asService('created');
    }
    expect(await findViolations(t.sql)).to.deep.equal([]);
  });
});
