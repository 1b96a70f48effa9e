// Our schema's version guard (migration 016, src/db/schema-guard.ts). A migration an
// older build cannot run against raises schema_compat.oldest_build; a build older than
// that refuses to start, and a replica already running writes nothing more (503, exit 1),
// while additive migrations of a newer release leave older replicas serving.
import { expect } from 'chai';
import { BUILD_SCHEMA } from '../../src/db/schema-guard.ts';
import { createTestDatabase } from '../support/database.ts';
import { withClient } from '../support/postgres.ts';
import { startServiceProcess } from '../support/service-process.ts';
import { jobBody, useService } from '../support/service.ts';
import { createAfterMigration } from '../support/version-guard.ts';

const NEWER = BUILD_SCHEMA + 1;

describe('our schema version guard', () => {
  describe('in process', () => {
    const { t, api } = useService();
    let floor: number;
    const requireBuild = (n: number) => t.sql.query('UPDATE schema_compat SET oldest_build = $1', [n]);
    before(async () => {
      floor = (await t.sql.query('SELECT oldest_build FROM schema_compat')).rows[0].oldest_build;
    });
    afterEach(async () => {
      await requireBuild(floor);
      await t.sql.query('DELETE FROM schema_migrations WHERE version > $1', [BUILD_SCHEMA]);
    });

    it('this build serves the schema it migrated (the floor is at most its newest migration)', async () => {
      expect(floor).to.be.at.most(BUILD_SCHEMA);
      await api.create(jobBody());
      expect((await t.api.get('/readyz')).status).to.equal(200);
    });

    it('answers 503 and writes nothing once a newer release needs a newer build', async () => {
      const pending = await api.create(jobBody());
      const before = (await t.sql.query('SELECT count(*)::int AS n FROM jobs')).rows[0].n;
      await t.sql.query(`INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, [NEWER, `${NEWER}_breaking.sql`]);
      await requireBuild(NEWER);
      const problem = await api.create(jobBody(), 503);
      expect(problem.type).to.match(/schema-version-mismatch$/);
      await api.cancel(pending.id, 503);
      await api.claim({ worker_id: 'w', model_profiles: ['qwen2.5-14b'], limit: 1 }, 503);
      expect((await t.sql.query('SELECT count(*)::int AS n FROM jobs')).rows[0].n).to.equal(before);
      expect((await api.get(pending.id)).status).to.equal('pending');
      const ready = await t.api.get('/readyz');
      expect(ready.status).to.equal(503);
      expect(ready.body.detail).to.include(`${NEWER}_breaking.sql`).and.include(`migration ${NEWER} or newer`);
      expect(ready.body.detail).to.include(`newest migration is ${BUILD_SCHEMA}`);
    });

    it('keeps serving when a newer release only added to the schema', async () => {
      await t.sql.query(`INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, [NEWER, `${NEWER}_additive.sql`]);
      const job = await api.create(jobBody());
      const claimed = (await api.claim({ worker_id: 'w', model_profiles: ['qwen2.5-14b'], limit: 10 })).jobs;
      expect(claimed.map((j: { id: string }) => j.id)).to.include(job.id);
      expect((await t.api.get('/readyz')).status).to.equal(200);
    });
  });

  it('refuses to start against a database that needs a newer build: exit 1, one line naming both', async function () {
    this.timeout(90_000);
    const databaseUrl = await createTestDatabase();
    await withClient(databaseUrl, (c) => c.query('UPDATE schema_compat SET oldest_build = $1', [NEWER]));
    const err = await startServiceProcess({ databaseUrl, output: 'capture' }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.include('exited with code 1 during start');
    const fatal = err!.message.split('\n').filter((l) => l.includes(`migration ${NEWER} or newer`));
    expect(fatal).to.have.length(1);
    expect(fatal[0]).to.include(`newest migration is ${BUILD_SCHEMA}`);
  });

  it('makes a running replica exit 1 with one line naming both once the floor passes it', async function () {
    this.timeout(90_000);
    const { status, exitCode, output } = await createAfterMigration('UPDATE schema_compat SET oldest_build = $1', [NEWER]);
    expect(status).to.equal(503);
    expect(exitCode).to.equal(1);
    const fatal = output.filter((l) => l.includes(`migration ${NEWER} or newer`) && l.includes(`newest migration is ${BUILD_SCHEMA}`));
    expect(fatal).to.have.length.greaterThan(0);
  });
});
