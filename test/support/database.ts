// One embedded PostgreSQL per test run (or TEST_DATABASE_URL), one migrated
// template database, and a fresh database cloned from it for each test file, so
// files are isolated and can run in any order.
import { migrateDatabase, startTempPostgres, type TempPostgres, withClient, withDatabase } from './postgres.ts';

const TEMPLATE = 'ai_service_template';
let serverUrl: string | undefined;
let embedded: TempPostgres | undefined;
let counter = 0;

function server(): string {
  if (!serverUrl) throw new Error('test PostgreSQL is not started (root hook missing?)');
  return serverUrl;
}

export async function startTestPostgres(): Promise<void> {
  if (process.env.TEST_DATABASE_URL) {
    serverUrl = process.env.TEST_DATABASE_URL;
  } else {
    embedded = await startTempPostgres('test', { fast: true });
    serverUrl = embedded.url;
  }
  await withClient(serverUrl, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${TEMPLATE}`);
    await c.query(`CREATE DATABASE ${TEMPLATE}`);
  });
  await migrateDatabase(withDatabase(serverUrl, TEMPLATE));
}

export async function stopTestPostgres(): Promise<void> {
  await embedded?.destroy();
}

/** A new database cloned from the migrated template; returns its URL. */
export async function createTestDatabase(): Promise<string> {
  const name = `t_${process.pid}_${++counter}`;
  await withClient(server(), (c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`));
  return withDatabase(server(), name);
}

/** An empty database (no migrations), for migration tests. */
export async function createEmptyDatabase(): Promise<string> {
  const name = `e_${process.pid}_${++counter}`;
  await withClient(server(), (c) => c.query(`CREATE DATABASE ${name}`));
  return withDatabase(server(), name);
}
