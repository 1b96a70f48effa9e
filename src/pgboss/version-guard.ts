// The running half of the pg-boss version guard. The start-time half
// (boss.ts checkPgbossVersion) refuses a database a newer pg-boss already migrated;
// this half covers a replica that started before the migration: every statement
// that writes both stores checks pgboss.version (mirror.ts bothStoresMoved) and
// fails with SQLSTATE PGBOSS_VERSION_SQLSTATE, writing nothing. The HTTP layer
// answers 503 (the request goes to a newer replica) and reports it here; the
// process entry point (main.ts) listens and exits 1 with the one-line message,
// which names both versions.
import { EventEmitter } from 'node:events';
import { PGBOSS_VERSION_SQLSTATE } from './mirror.ts';

const events = new EventEmitter();

export function isPgbossVersionError(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === PGBOSS_VERSION_SQLSTATE;
}

/** Called wherever a statement failed; reports a version mismatch, ignores anything else. */
export function reportIfPgbossVersionError(err: unknown): void {
  if (isPgbossVersionError(err)) events.emit('mismatch', String((err as Error).message));
}

/** `listener` gets the database's message (both versions) each time a statement hits a newer schema. */
export function onPgbossVersionMismatch(listener: (message: string) => void): () => void {
  events.on('mismatch', listener);
  return () => events.off('mismatch', listener);
}
