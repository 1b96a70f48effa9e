// A transaction's statements sent together. node-postgres sends one message per query and
// waits for its answer, so a claim (BEGIN, clock lock, heads, take, COMMIT) paid up to five
// round trips, and on a busy host each one is another chance to wait for a CPU: in-process,
// the same claim in two round trips took 0.5 ms less at p50 and 1-2 ms less at p99
// (scripts/bench/README.md).
//
// A StatementBatch holds statements back (the BEGIN) and sends them in front of the next
// query, in one simple-query message; a named query runs as an SQL-level prepared statement
// (PREPARE once per connection, then EXECUTE with its values written as quoted literals), so
// it is planned once per connection as node-postgres' own named statements are. `commitWith`
// names the query that ends the transaction: COMMIT rides along with it.
//
// Only on direct connections: behind a transaction-mode pooler a prepared statement lives on
// whichever server connection parsed it (withBatchedTransactionRetried in pool.ts falls back).
import pg from 'pg';
import type { PoolClient, Queryable } from './pool.ts';

type Config = { name?: string; text: string; values?: unknown[] };

/** The batch statements prepared on each connection (keyed by its client); absent: not known. */
const prepared = new WeakMap<PoolClient, Set<string>>();
/** Our SQL-level names, apart from node-postgres' protocol-level ones (one namespace per session). */
const PREFIX = 'batch:';

export class StatementBatch {
  private readonly client: PoolClient;
  private readonly commitWith: (name: string) => boolean;
  private ahead: string[];
  /** The transaction's COMMIT has been sent (and succeeded). */
  committed = false;

  constructor(client: PoolClient, begin: string, commitWith: (name: string) => boolean = () => false) {
    this.client = client;
    this.ahead = [begin];
    this.commitWith = commitWith;
  }

  async query(config: Config | string, values?: unknown[]): Promise<pg.QueryResult> {
    const c: Config = typeof config === 'string' ? { text: config, values } : config;
    const statements = this.ahead;
    this.ahead = [];
    if (c.name === undefined) {
      if (c.values?.length) {
        // a query with values and no name runs on its own, after what is held back
        if (statements.length) await this.client.query(statements.join(';\n'));
        return this.client.query(c);
      }
      return this.send([...statements, c.text]);
    }
    const known = await this.preparedStatements();
    const name = pg.escapeIdentifier(PREFIX + c.name);
    const prepare = !known.has(PREFIX + c.name);
    if (prepare) statements.push(`PREPARE ${name} AS ${c.text}`);
    statements.push(`EXECUTE ${name}${c.values?.length ? `(${c.values.map(literal).join(', ')})` : ''}`);
    const commit = this.commitWith(c.name);
    if (commit) statements.push('COMMIT');
    try {
      const result = await this.send(statements, commit ? 2 : 1);
      if (prepare) known.add(PREFIX + c.name);
      if (commit) this.committed = true;
      return result;
    } catch (err) {
      // which statements ran before the error is not known: read them again next time
      if (prepare) prepared.delete(this.client);
      throw err;
    }
  }

  /** Sends what is held back with COMMIT, unless a query committed already. */
  async commit(): Promise<void> {
    if (!this.committed) await this.send([...this.ahead, 'COMMIT']);
    this.ahead = [];
    this.committed = true;
  }

  /** Runs the statements in one message; the result of the one `fromEnd` from the last. */
  private async send(statements: string[], fromEnd = 1): Promise<pg.QueryResult> {
    const results = (await this.client.query(statements.join(';\n'))) as unknown as pg.QueryResult | pg.QueryResult[];
    return Array.isArray(results) ? results[results.length - fromEnd] : results;
  }

  private async preparedStatements(): Promise<Set<string>> {
    let known = prepared.get(this.client);
    if (!known) {
      const { rows } = await this.client.query('SELECT name FROM pg_prepared_statements WHERE name LIKE $1', [`${PREFIX}%`]);
      known = new Set(rows.map((r) => r.name));
      prepared.set(this.client, known);
    }
    return known;
  }
}

/** The batch as the stores see it: anything that runs a query. */
export const asQueryable = (b: StatementBatch) => b as unknown as Queryable;

/**
 * A query value as an SQL literal, in the text form node-postgres sends for a parameter
 * (arrays as `{"a","b",NULL}`), quoted; EXECUTE casts it to the parameter's type.
 */
export function literal(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  return pg.escapeLiteral(text(v));
}

function text(v: unknown): string {
  if (Array.isArray(v))
    return `{${v.map((x) => (x === null || x === undefined ? 'NULL' : `"${text(x).replace(/[\\"]/g, '\\$&')}"`)).join(',')}}`;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  throw new TypeError(`no SQL literal for a ${typeof v}`);
}
