// The bench's tables: its seeded rows (through the one bulk seeder in
// test/support/seed.ts), fresh statistics, and waiting out autovacuum between
// scenarios.
import type pg from 'pg';
import { PGBOSS_SCHEMA } from '../../src/pgboss/boss.ts';
import { type SeedOptions, seedJobs } from '../../test/support/seed.ts';
import type { QueueRef } from './driver.ts';
import { INPUT, OWNER_SERVICE } from './driver.ts';

/**
 * Inserts `count` jobs spread round-robin over `queues`, created `spacingMs` apart
 * and ending now, owned by the bench's producer. The queues must already exist.
 */
export function seedBenchJobs(db: pg.Pool, queues: QueueRef[], count: number, status: SeedOptions['status'], spacingMs = 1) {
  return seedJobs(db, { queues, count, status, spacingMs, owner_service: OWNER_SERVICE, input: INPUT });
}

/**
 * Fresh statistics and a clean visibility map, so plans are those of a settled table (notes §13).
 * job_lanes too: only ever inserted into, it is all-visible once autovacuum has passed, and the
 * claim reads it with an index-only scan (a seeded one fetched every lane from the heap). And
 * job_events, which gets a row per seeded job: left to autovacuum, a vacuum of millions of
 * fresh rows ran during the measurements that follow (a deployment vacuums it as it grows);
 * job_keys likewise.
 */
export async function vacuumAnalyze(db: pg.Pool): Promise<void> {
  await db.query('VACUUM (ANALYZE) jobs, job_attempts, job_events, job_keys, job_stat_deltas, job_stats, job_lanes');
  await db.query(`VACUUM (ANALYZE) ${PGBOSS_SCHEMA}.job_common`);
}

/**
 * Writes out what a bulk seed left dirty (CHECKPOINT), so the write-back of gigabytes the
 * service never wrote, and a checkpoint it triggers, do not land in the measurements that
 * follow: a deployment reaches millions of jobs over weeks of ordinary checkpoints. A
 * BENCH_DATABASE_URL role without the privilege (superuser or pg_checkpoint) gets a warning.
 */
export async function checkpoint(db: pg.Pool, log: (line: string) => void): Promise<void> {
  try {
    await db.query('CHECKPOINT');
  } catch (err) {
    if ((err as { code?: string }).code !== '42501') throw err;
    log('  CHECKPOINT not permitted (needs superuser or pg_checkpoint): the seed may still be written out while measuring');
  }
}

export async function countJobs(db: pg.Pool): Promise<number> {
  const { rows } = await db.query('SELECT count(*)::int AS n FROM jobs');
  return rows[0].n;
}

const SETTLE_LIMIT_MS = 60_000;
const SETTLE_POLL_MS = 250;

/**
 * Waits (up to a minute) until no autovacuum worker is running on the server, so
 * a vacuum set off by the previous scenario's writes does not land in the next
 * one's measurements. Returns the milliseconds waited.
 */
export async function settle(db: pg.Pool): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < SETTLE_LIMIT_MS) {
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'`);
    if (rows[0].n === 0) break;
    await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
  }
  return Date.now() - start;
}

/**
 * What the server did over a phase of the bench (the purge, the claims): WAL written (after
 * a checkpoint, full-page images are most of it), checkpoints started, and pages that client
 * backends had to write out themselves because no clean buffer was free. The WAL position is
 * exact; the other counters are flushed by each backend about once a second, which is noise
 * for a phase of a minute or more.
 */
export async function serverCounters(sql: pg.Pool): Promise<ServerCounters> {
  const { rows } = await sql.query(`
    SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8 AS wal_bytes,
           (SELECT wal_fpi FROM pg_stat_wal)::float8 AS wal_fpi,
           (SELECT num_timed + num_requested FROM pg_stat_checkpointer)::float8 AS checkpoints,
           (SELECT num_done FROM pg_stat_checkpointer)::float8 AS checkpoints_done,
           (SELECT coalesce(sum(writes), 0) FROM pg_stat_io WHERE backend_type = 'client backend')::float8 AS backend_writes`);
  return rows[0];
}
export interface ServerCounters {
  wal_bytes: number;
  wal_fpi: number;
  checkpoints: number;
  checkpoints_done: number;
  backend_writes: number;
}
/** What the server did since `before` (a serverCounters reading). */
export async function serverCountersSince(sql: pg.Pool, before: ServerCounters): Promise<ServerCounters> {
  const now = await serverCounters(sql);
  return Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - before[k as keyof ServerCounters]])) as unknown as ServerCounters;
}

/**
 * Blocks each relation of the database (tables, their indexes and TOAST) has read from
 * outside shared buffers so far, by relation name. They count every backend, autovacuum
 * included, and a backend flushes its share at most once a second, an idle one within 10 s.
 */
export async function blocksRead(sql: pg.Pool): Promise<Map<string, number>> {
  const { rows } = await sql.query(
    `
    SELECT relname AS name, (coalesce(heap_blks_read, 0) + coalesce(toast_blks_read, 0))::float8 AS n
    FROM pg_statio_all_tables WHERE schemaname IN ('public', $1::text)
    UNION ALL
    SELECT indexrelname, idx_blks_read::float8 FROM pg_statio_all_indexes WHERE schemaname IN ('public', $1::text)`,
    [PGBOSS_SCHEMA],
  );
  return new Map(rows.map((r: { name: string; n: number }) => [r.name, r.n]));
}

/** Blocks read between two blocksRead readings per `per` operations: in all, and the `top` relations that read most. */
export function readsPer(before: Map<string, number>, after: Map<string, number>, per: number, top = 6) {
  const rows = [...after].map(([name, n]) => [name, (n - (before.get(name) ?? 0)) / per] as const).filter(([, n]) => n > 0);
  const total = rows.reduce((sum, [, n]) => sum + n, 0);
  const most = rows
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, n]) => `${name} ${n.toFixed(2)}`);
  return { total, most: most.join(', ') };
}
