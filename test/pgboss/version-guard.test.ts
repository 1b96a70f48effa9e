// The running half of the pg-boss version guard: once a newer pg-boss has migrated
// the database (pgboss.version moved on), a replica built for the old schema writes
// nothing more: every statement that writes pg-boss's tables fails with SQLSTATE
// AIV01, the API answers 503, and the process exits 1 with one line naming both versions.
import { expect } from 'chai';
import { SUPPORTED_PGBOSS } from '../../src/pgboss/mirror.ts';
import { jobBody, useService } from '../support/service.ts';
import { createAfterMigration } from '../support/version-guard.ts';

const NEWER = SUPPORTED_PGBOSS.schema + 1;

describe('pg-boss version guard while running', () => {
  describe('in process', () => {
    const { t, api } = useService();
    const setSchema = (v: number) => t.sql.query('UPDATE pgboss.version SET version = $1', [v]);
    afterEach(() => setSchema(SUPPORTED_PGBOSS.schema));

    it('answers 503 and writes nothing once a newer pg-boss migrated the database', async () => {
      const pending = await api.create(jobBody());
      const before = (await t.sql.query('SELECT count(*)::int AS n FROM jobs')).rows[0].n;
      await setSchema(NEWER);
      const problem = await api.create(jobBody(), 503);
      expect(problem.type).to.match(/pgboss-version-mismatch$/);
      await api.cancel(pending.id, 503);
      await api.claim({ worker_id: 'w', model_profiles: ['qwen2.5-14b'], limit: 1 }, 503);
      expect((await t.sql.query('SELECT count(*)::int AS n FROM jobs')).rows[0].n).to.equal(before);
      expect((await api.get(pending.id)).status).to.equal('pending');
      expect(t.logs.some((l) => l.includes(`schema is version ${NEWER}`))).to.equal(true);
    });

    it('writes again once the schema is the supported one', async () => {
      await api.create(jobBody());
    });
  });

  it('makes the process exit 1 with one line naming both versions', async function () {
    this.timeout(90_000);
    const { status, exitCode, output } = await createAfterMigration('UPDATE pgboss.version SET version = $1', [NEWER]);
    expect(status).to.equal(503);
    expect(exitCode).to.equal(1);
    const fatal = output.filter((l) => l.includes(`schema is version ${NEWER}`) && l.includes(`writes version ${SUPPORTED_PGBOSS.schema}`));
    expect(fatal).to.have.length.greaterThan(0);
    expect(fatal[0]).to.include(`pg-boss ${SUPPORTED_PGBOSS.version}`);
  });
});
