// One pg Pool per process. Every connection gets a statement_timeout and an
// idle_in_transaction_session_timeout, so a slow query or an abandoned
// transaction cannot hold locks or connections forever.
import pg from 'pg';
import type { DbConfig } from '../config.ts';
import { asQueryable, StatementBatch } from './batch.ts';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything that can run a query: the pool itself or a client inside a transaction. */
export interface Queryable {
  query: pg.Pool['query'];
}

/**
 * The client-side deadline of a query is the statement timeout plus this. The server
 * cancels a slow statement itself; this deadline is for a connection that no longer
 * answers at all (its server gone without a reset, as when a primary's host dies), where
 * the server's timeout never reaches us and the kernel would wait for many minutes.
 */
export const QUERY_DEADLINE_SLACK_MS = 2000;
/** node-postgres' message when that deadline passes. */
export const QUERY_DEADLINE_ERROR = 'Query read timeout';

const UTC_TIMESTAMP = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?\+00$/;

/**
 * PostgreSQL's timestamptz text as the API writes it: RFC 3339 in UTC with
 * milliseconds (what Date#toISOString gives). A UTC value is rewritten as text,
 * ~0.3 µs instead of ~1.6 µs through a Date; a job row has up to six of them, so
 * a batch of 1,000 saves 5-9 ms. Other zones and years go through Date.
 */
export function timestamptzToIso(v: string): string {
  if (v === 'infinity' || v === '-infinity') return v;
  const m = UTC_TIMESTAMP.exec(v);
  if (!m) return new Date(v).toISOString();
  const ms = m[3] === undefined ? '000' : m[3].length >= 3 ? m[3].slice(0, 3) : m[3].padEnd(3, '0');
  return `${m[1]}T${m[2]}.${ms}Z`;
}

// count(*) (int8) becomes a JS number: our counts stay far below 2^53.
// timestamptz becomes an RFC 3339 string (what the API returns), not a Date.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.TIMESTAMPTZ, timestamptzToIso);

export interface PoolOptions {
  /**
   * The URL is a transaction-mode pooler: no startup parameters (PgBouncer refuses
   * them), so the timeouts come from the role's settings (ALTER ROLE … SET), and no
   * named prepared statements unless `preparedStatements` says so.
   */
  pooled?: boolean;
  preparedStatements?: boolean;
}

/**
 * The application_name the service's own connections carry. pg-boss's watch triggers
 * (migration 004) skip changes made under it, so only changes made through pg-boss's
 * tooling are noted for adoption: a connection writing both stores must use it.
 */
export const SERVICE_APPLICATION_NAME = 'ai-service';

export function createPool(
  connectionString: string,
  config: Pick<DbConfig, 'poolSize' | 'statementTimeoutMs' | 'connectTimeoutMs'>,
  applicationName = SERVICE_APPLICATION_NAME,
  { pooled = false, preparedStatements = true }: PoolOptions = {},
): Pool {
  const pool = new pg.Pool({
    connectionString,
    max: config.poolSize,
    connectionTimeoutMillis: config.connectTimeoutMs,
    query_timeout: config.statementTimeoutMs + QUERY_DEADLINE_SLACK_MS,
    idleTimeoutMillis: 30_000,
    ...(pooled
      ? {}
      : {
          statement_timeout: config.statementTimeoutMs,
          idle_in_transaction_session_timeout: Math.max(config.statementTimeoutMs * 2, 5000),
        }),
    // The one startup parameter PgBouncer accepts.
    application_name: applicationName,
    keepAlive: true,
  });
  // An idle client losing its connection (database restart) must not crash the process;
  // the pool discards it and the next checkout reconnects.
  pool.on('error', () => {});
  // pg-pool unhooks that handler while a client is checked out, so a connection lost in the
  // middle of a transaction would emit an unhandled 'error' and end the process. Its queries
  // fail anyway (the request answers 503) and the broken client is discarded on release.
  pool.on('connect', (client) => client.on('error', () => {}));
  if (!preparedStatements) {
    pool.on('connect', withoutStatementNames);
    unnamed.add(pool);
  }
  return pool;
}

/** Pools whose queries run unnamed (behind a transaction-mode pooler). */
const unnamed = new WeakSet<Pool>();

/**
 * Stores name their hot queries so PostgreSQL plans them once per connection. Behind a
 * transaction-mode pooler a name lives on whichever server connection parsed it, so the
 * names are dropped here, in one place, and every query runs as an unnamed statement.
 */
function withoutStatementNames(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as { query: unknown }).query = (config: unknown, ...rest: unknown[]) => {
    if (config && typeof config === 'object' && 'name' in config) {
      const { name: _name, ...unnamed } = config as Record<string, unknown>;
      return query(unnamed, ...rest);
    }
    return query(config, ...rest);
  };
}

/** deadlock_detected, serialization_failure: the transaction lost a race and may simply run again. */
export const DB_CONFLICT_CODES = new Set(['40P01', '40001']);
/** How often a transaction that lost such a race is run again before the error is answered (503). */
const CONFLICT_TRIES = 3;

/** withTransaction, run again (up to CONFLICT_TRIES times in all) when it loses a deadlock or serialization race. */
export function withTransactionRetried<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
  return retriedOnConflict(() => withTransaction(pool, fn, begin));
}

/**
 * A transaction whose statements travel in as few round trips as they can (src/db/batch.ts):
 * `begin` goes with the first query, COMMIT with the query `commitWith` names (or after fn).
 * Behind a pooler without prepared statements it is withTransaction. Run again on conflicts.
 */
export function withBatchedTransactionRetried<T>(
  pool: Pool,
  fn: (db: Queryable) => Promise<T>,
  begin: string,
  commitWith?: (name: string) => boolean,
): Promise<T> {
  if (unnamed.has(pool)) return withTransactionRetried(pool, fn, begin);
  return retriedOnConflict(() =>
    onClient(pool, async (client) => {
      const batch = new StatementBatch(client, begin, commitWith);
      const result = await fn(asQueryable(batch));
      await batch.commit();
      return result;
    }),
  );
}

async function retriedOnConflict<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (attempt >= CONFLICT_TRIES || !DB_CONFLICT_CODES.has((err as { code?: string })?.code ?? '')) throw err;
    }
  }
}

/**
 * Runs fn inside BEGIN/COMMIT on one client; rolls back on any error. `begin` may add
 * `SET LOCAL` settings to the BEGIN (one round trip; transaction-scoped, so poolers accept it).
 */
export function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
  return onClient(pool, async (client) => {
    await client.query(begin);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  });
}

/** A transaction run on one pooled client by `run`, rolled back when it throws. */
async function onClient<T>(pool: Pool, run: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let result: T;
  try {
    result = await run(client);
  } catch (err) {
    // A connection past its query deadline no longer answers (and a ROLLBACK would only wait
    // out another deadline behind the stuck statement); it and one that cannot roll back are
    // destroyed rather than handed to the next request. The server rolls back a session it loses.
    const usable =
      (err as Error)?.message !== QUERY_DEADLINE_ERROR &&
      (await client.query('ROLLBACK').then(
        () => true,
        () => false,
      ));
    client.release(usable ? undefined : (err as Error));
    throw err;
  }
  client.release();
  return result;
}

/** The URL with its password replaced, for logs. */
export function maskDatabaseUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.password) u.password = '*****';
    return u.toString();
  } catch {
    return '[invalid url]';
  }
}
