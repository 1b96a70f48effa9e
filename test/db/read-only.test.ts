// During a failover a replica's connections may reach a server that accepts them but
// refuses writes: a standby not yet promoted, or a demoted old primary. A write there
// fails with read_only_sql_transaction; the client must get a 503 it can retry, never
// a 500, and the service writes again once connections reach a primary.
import { expect } from 'chai';
import { jobBody, useService } from '../support/service.ts';

describe('a database that refuses writes', () => {
  const { t, api } = useService();

  /** Makes new sessions read-only (or not) and ends the service's current ones, so the next query reconnects. */
  async function readOnly(on: boolean) {
    await t.sql.query(`ALTER DATABASE "${new URL(t.databaseUrl).pathname.slice(1)}" SET default_transaction_read_only = ${on}`);
    await t.sql.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'ai-service' AND pid <> pg_backend_pid()`,
    );
  }

  it('answers a write with 503 database_unavailable, then writes again once it may', async () => {
    await readOnly(true);
    try {
      // The first answer may come from a connection ended above; every one is a 503.
      for (let i = 0; i < 3; i++) {
        const problem = await api.create(jobBody({ owner_ref: `read-only-${i}` }), 503);
        expect(problem.code).to.equal('database_unavailable');
      }
    } finally {
      await readOnly(false);
    }
    await api.create(jobBody({ owner_ref: 'writable' }), 201);
  });
});
