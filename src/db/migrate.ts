// Versioned SQL migrations for our own schema (the jobs table and friends).
// Files in ./migrations are applied in name order, each in its own transaction,
// and recorded in schema_migrations. A session advisory lock serialises replicas
// that start at once: the second waits, then finds nothing left to do.
// pg-boss installs and migrates its own schema (`pgboss`) in pgboss/boss.ts.
import { readdirSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Pool } from './pool.ts';

const MIGRATIONS_DIR = path.join(import.meta.dirname, 'migrations');
// Arbitrary constant shared by every replica: "ai-service migrations".
const MIGRATION_LOCK_KEY = 4_242_001;

interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** A migration file is `NNN_name.sql`; its version is NNN. */
const isMigrationFile = (name: string) => /^\d+_.*\.sql$/.test(name);
const versionOf = (name: string) => Number.parseInt(name, 10);

/** The newest migration this build carries (read once, at start: the schema guard's build number). */
export function newestMigrationVersion(): number {
  return Math.max(...readdirSync(MIGRATIONS_DIR).filter(isMigrationFile).map(versionOf));
}

export async function loadMigrations(): Promise<Migration[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter(isMigrationFile).sort();
  return Promise.all(
    files.map(async (name) => ({
      version: versionOf(name),
      name,
      sql: await readFile(path.join(MIGRATIONS_DIR, name), 'utf8'),
    })),
  );
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

/** Applies every pending migration; returns the names applied. */
export async function migrate(pool: Pool): Promise<string[]> {
  const migrations = await loadMigrations();
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
    await client.query(CREATE_TABLE);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const done = new Set(rows.map((r) => r.version));
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1::int, $2::text)', [m.version, m.name]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${m.name} failed: ${(err as Error).message}`);
      }
      applied.push(m.name);
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]).catch(() => {});
    client.release();
  }
}

/** Names of migrations not yet applied (empty when the schema is current). */
export async function pendingMigrations(pool: Pool): Promise<string[]> {
  const migrations = await loadMigrations();
  const { rows } = await pool.query<{ exists: boolean }>(`SELECT to_regclass('schema_migrations') IS NOT NULL AS exists`);
  if (!rows[0].exists) return migrations.map((m) => m.name);
  const applied = await pool.query<{ version: number }>('SELECT version FROM schema_migrations');
  const done = new Set(applied.rows.map((r) => r.version));
  return migrations.filter((m) => !done.has(m.version)).map((m) => m.name);
}
