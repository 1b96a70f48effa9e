// The running half of the version guards: pg-boss's schema (src/pgboss/boss.ts
// checkPgbossVersion refuses a newer one at start) and ours (schema-guard.ts). A
// replica that started before a newer release migrated the database writes nothing
// more: every statement that writes both stores checks both versions (mirror.ts
// schemasServeThisReplica) and fails with SQLSTATE PGBOSS_VERSION_SQLSTATE or
// SCHEMA_VERSION_SQLSTATE, writing nothing. The HTTP layer answers 503 (the request
// goes to a newer replica) and reports it here; the process entry point (main.ts)
// listens and exits 1 with the one-line message, which names both versions.
import { EventEmitter } from 'node:events';

/** Raised by ai_pgboss_schema_is (migration 008): pgboss.version is not the one we write. */
export const PGBOSS_VERSION_SQLSTATE = 'AIV01';
/** Raised by ai_schema_serves (migration 016): our schema needs a newer build. */
export const SCHEMA_VERSION_SQLSTATE = 'AIV02';

const events = new EventEmitter();

const codeOf = (err: unknown) => (err as { code?: unknown } | undefined)?.code;

export function isPgbossVersionError(err: unknown): boolean {
  return codeOf(err) === PGBOSS_VERSION_SQLSTATE;
}

export function isSchemaVersionError(err: unknown): boolean {
  return codeOf(err) === SCHEMA_VERSION_SQLSTATE;
}

/** Reports that this replica is older than the database (the message names both versions). */
export function reportVersionMismatch(message: string): void {
  events.emit('mismatch', message);
}

/** Called wherever a statement failed; reports a version mismatch, ignores anything else. */
export function reportIfVersionError(err: unknown): void {
  if (isPgbossVersionError(err) || isSchemaVersionError(err)) reportVersionMismatch(String((err as Error).message));
}

/** `listener` gets the database's message (both versions) each time a statement hits a newer schema. */
export function onVersionMismatch(listener: (message: string) => void): () => void {
  events.on('mismatch', listener);
  return () => events.off('mismatch', listener);
}
