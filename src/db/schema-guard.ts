// Our schema's version guard (migration 016). A migration an older build cannot run
// against raises schema_compat.oldest_build to its own number; this build's number is
// its newest migration. At start the service refuses a database that needs a newer
// build (checkSchemaServesThisBuild, exit 1); while running, every statement that
// writes both stores checks it (schemaServesThisBuild, in mirror.ts's guard term) and
// /readyz does too, so a replica older than the database writes nothing more
// (SQLSTATE SCHEMA_VERSION_SQLSTATE: 503, then exit 1 via version-guard.ts).
import { newestMigrationVersion } from './migrate.ts';
import type { Queryable } from './pool.ts';
import { isSchemaVersionError } from './version-guard.ts';

/** The newest migration this build carries (src/db/migrations/NNN_*.sql). */
export const BUILD_SCHEMA = newestMigrationVersion();

/** SQL (a boolean term): true, or raises SQLSTATE SCHEMA_VERSION_SQLSTATE naming both numbers. */
export function schemaServesThisBuild(): string {
  return `(SELECT ai_schema_serves(${BUILD_SCHEMA}))`;
}

export class SchemaVersionError extends Error {}

/**
 * Why the database cannot be served by this build (its message names both numbers), or
 * undefined. A database without schema_compat is older than migration 016: the migrations
 * still to run bring it.
 */
export async function schemaNeedsNewerBuild(db: Queryable): Promise<string | undefined> {
  const { rows } = await db.query(`SELECT to_regclass('schema_compat') IS NOT NULL AS ok`);
  if (!rows[0].ok) return undefined;
  try {
    await db.query(`SELECT ${schemaServesThisBuild()}`);
    return undefined;
  } catch (err) {
    if (isSchemaVersionError(err)) return (err as Error).message;
    throw err;
  }
}

/** Refuses (throws SchemaVersionError) a database whose schema needs a newer build. */
export async function checkSchemaServesThisBuild(db: Queryable): Promise<void> {
  const problem = await schemaNeedsNewerBuild(db);
  if (problem) throw new SchemaVersionError(problem);
}
