import { expect } from 'chai';
import fc from 'fast-check';
import pg from 'pg';
import { createTestDatabase } from '../support/database.ts';
import { timestamptzToIso } from '../../src/db/pool.ts';

describe('timestamptz values read from PostgreSQL', () => {
  it('read as the same RFC 3339 UTC text as Date#toISOString, for any instant and zone', async () => {
    const db = new pg.Client({ connectionString: await createTestDatabase() });
    await db.connect();
    try {
      const instants = fc.sample(
        fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2200-01-01T00:00:00Z'), noInvalidDate: true }),
        300,
      );
      for (const zone of ['UTC', 'Asia/Kolkata', 'America/St_Johns']) {
        await db.query(`SET TimeZone = '${zone}'`);
        // Microseconds too: PostgreSQL keeps them, the API shows milliseconds.
        const { rows } = await db.query<{ t: string }>(
          `SELECT (to_timestamp(x / 1000.0) + make_interval(secs => (x::bigint % 7) / 1e6))::text AS t FROM unnest($1::float8[]) x`,
          [instants.map((d) => d.getTime())],
        );
        for (const { t } of rows) expect(timestamptzToIso(t), t).to.equal(new Date(t).toISOString());
      }
      expect(timestamptzToIso('infinity')).to.equal('infinity');
    } finally {
      await db.end();
    }
  });
});
