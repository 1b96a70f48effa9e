// Statements sent together (src/db/batch.ts): values survive the trip as literals, a
// transaction takes one round trip per batch, and a failed batch leaves the connection usable.
import { expect } from 'chai';
import fc from 'fast-check';
import { literal } from '../../src/db/batch.ts';
import { createPool, type Pool, type PoolClient, withBatchedTransactionRetried } from '../../src/db/pool.ts';
import { loadConfig } from '../../src/config.ts';
import { createTestDatabase } from '../support/database.ts';

const ECHO = {
  name: 'test-echo',
  text: 'SELECT $1::text[] AS texts, $2::float8[] AS floats, $3::int AS n, $4::text AS t, $5::boolean AS b',
};

describe('statements sent together', () => {
  let pool: Pool;
  /** Round trips (client.query calls) per pooled connection, counted from here. */
  let trips = 0;
  before(async () => {
    pool = createPool(await createTestDatabase(), { ...loadConfig({}).db, poolSize: 1 });
    pool.on('acquire', (client: PoolClient & { counted?: boolean }) => {
      if (client.counted) return;
      client.counted = true;
      const query = client.query.bind(client) as (...a: unknown[]) => unknown;
      (client as { query: unknown }).query = (...a: unknown[]) => {
        trips++;
        return query(...a);
      };
    });
    await pool.query('CREATE TABLE batch_test (n int PRIMARY KEY)');
  });
  after(() => pool.end());

  const echo = (values: unknown[]) =>
    withBatchedTransactionRetried(
      pool,
      async (db) => (await db.query({ ...ECHO, values })).rows[0],
      'BEGIN',
      () => true,
    );

  it('passes any text, float, integer and boolean value through as a literal, unchanged', async () => {
    const text = fc.string({ unit: 'binary', maxLength: 20 }).map((s) => s.replace(/\0/g, ''));
    const samples = fc.sample(
      fc.tuple(
        fc.array(fc.option(text, { nil: null }), { maxLength: 5 }),
        fc.array(fc.double({ noNaN: true }), { maxLength: 5 }),
        fc.option(fc.integer(), { nil: null }),
        text,
        fc.boolean(),
      ),
      200,
    );
    for (const [texts, floats, n, t, b] of samples) {
      const row = await echo([texts, floats, n, t, b]);
      expect(row).to.deep.equal({ texts, floats: floats.map((f) => (Object.is(f, -0) ? 0 : f)), n, t, b });
    }
    expect(literal("it's")).to.equal("'it''s'");
    expect(() => literal({ a: 1 })).to.throw(TypeError);
  });

  it('runs BEGIN, a prepared statement and COMMIT in one round trip once the statement is prepared', async () => {
    await echo([[], [], 1, 'x', true]); // prepares it on the pool's one connection
    trips = 0;
    await echo([['a'], [1.5], 2, 'y', false]);
    expect(trips).to.equal(1);
    trips = 0;
    // without a statement to commit with, COMMIT follows on its own
    await withBatchedTransactionRetried(pool, (db) => db.query({ ...ECHO, values: [[], [], 3, 'z', true] }), 'BEGIN');
    expect(trips).to.equal(2);
  });

  it('runs unnamed queries, with values or without, inside the same transaction', async () => {
    const rolledBack = new Error('roll back');
    const seen = await withBatchedTransactionRetried(
      pool,
      async (db) => {
        await db.query('INSERT INTO batch_test (n) VALUES (100)'); // rides with the BEGIN
        await db.query({ text: 'INSERT INTO batch_test (n) VALUES ($1::int)', values: [101] }); // on its own
        const { rows } = await db.query('SELECT array_agg(n ORDER BY n) AS ns FROM batch_test WHERE n >= 100');
        if (rows[0].ns.length === 2) throw rolledBack;
        return rows[0].ns;
      },
      'BEGIN',
    ).catch((e) => e);
    expect(seen).to.equal(rolledBack);
    expect((await pool.query('SELECT count(*)::int AS n FROM batch_test WHERE n >= 100')).rows[0].n).to.equal(0);
  });

  it('rolls a failed batch back whole and keeps the connection usable, its statements prepared once', async () => {
    const insert = { name: 'test-insert', text: 'INSERT INTO batch_test (n) SELECT unnest($1::int[]) RETURNING n' };
    const write = (ns: number[]) =>
      withBatchedTransactionRetried(
        pool,
        async (db) => {
          await db.query({ ...insert, values: [ns.slice(0, 1)] });
          return (await db.query({ ...insert, values: [ns.slice(1)] })).rowCount;
        },
        'BEGIN',
        () => false,
      );
    // the second statement of the first try fails (duplicate key): nothing of it stays
    const err = await write([1, 1]).catch((e) => e);
    expect(err.code).to.equal('23505');
    expect((await pool.query('SELECT count(*)::int AS n FROM batch_test')).rows[0].n).to.equal(0);
    expect(await write([1, 2, 3])).to.equal(2);
    expect((await pool.query('SELECT array_agg(n ORDER BY n) AS ns FROM batch_test')).rows[0].ns).to.deep.equal([1, 2, 3]);
    // a batch that prepares a statement and then fails: whether the PREPARE ran is read back
    const divide = (by: number) =>
      withBatchedTransactionRetried(
        pool,
        async (db) => (await db.query({ name: 'test-divide', text: 'SELECT 6 / $1::int AS q', values: [by] })).rows[0].q,
        'BEGIN',
      );
    expect((await divide(0).catch((e) => e)).code).to.equal('22012');
    expect(await divide(2)).to.equal(3);
    const { rows } = await pool.query(`SELECT name FROM pg_prepared_statements WHERE name LIKE 'batch:%' ORDER BY name`);
    expect(rows.map((r) => r.name)).to.deep.equal(['batch:test-divide', 'batch:test-echo', 'batch:test-insert']);
  });
});
