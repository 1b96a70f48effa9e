// Retention purge: deletes finished jobs past their retention from `jobs` and
// `pgboss.job` in ONE statement (a data-modifying CTE is atomic), so no crash or
// kill can leave one store holding a row the other has lost. The job's
// job_attempts, job_events, job_progress and webhook_deliveries rows go in the same
// statement, set-based (no foreign keys: migration 011); the pg-boss jobs of those
// deliveries (queue `webhooks`, which pg-boss never deletes: deletion_seconds 0) go
// in the same statement, and a deliverer holding one finds the delivery gone
// (src/webhooks/deliverer.ts). The jobs DELETE trigger (migration 002, jobs_count_delete)
// decrements the status counters and counts `purged` per queue in the same transaction.
//
// One call = one batch = one short autocommit transaction bounded by `limit` rows.
// Victims are read from the partial index jobs_finished_idx (status, finished_at)
// oldest first and locked FOR UPDATE SKIP LOCKED, so the purge never waits on a
// row someone else holds (a retry or a read of that job) and holds only the rows it
// deletes. Pending and running jobs are not in that index and cannot be selected.
// The status is a literal in each statement (never a parameter) so the planner can
// always prove the partial index predicate, even for a cached generic plan.
import type { Queryable } from '../db/pool.ts';
import { bossDelete, bossDeleteIds, schemasServeThisReplica } from '../pgboss/mirror.ts';
import { WEBHOOK_QUEUE } from '../webhooks/store.ts';

export const PURGEABLE_STATUSES = ['completed', 'failed', 'cancelled'] as const;
export type PurgeableStatus = (typeof PURGEABLE_STATUSES)[number];

const VICTIM_IDS = 'ARRAY(SELECT id FROM victims)';

// $1 retention in seconds, $2 the keyset cursor (oldest finished_at still to look
// at, so a long run does not rescan the dead index entries of its own earlier
// batches), $3 the batch size.
function purgeSql(status: PurgeableStatus): string {
  return `
WITH victims AS (
  SELECT id, queue, finished_at FROM jobs
  WHERE status = '${status}'
    AND finished_at < now() - make_interval(secs => $1::float8)
    AND finished_at >= $2::timestamptz
  ORDER BY finished_at
  LIMIT $3::int
  FOR UPDATE SKIP LOCKED
),
boss AS (${bossDelete('victims')}),
-- A job's own rows, one statement per table for the whole batch (they have no foreign
-- keys: cascades cost four statements per job, migration 011). = ANY(ARRAY(...)) pins
-- each lookup to its job_id index; as a join the planner chose a hash join over a
-- full scan of webhook_deliveries (188 ms per batch at 200k rows).
deliveries AS (DELETE FROM webhook_deliveries d WHERE d.job_id = ANY (${VICTIM_IDS}) RETURNING d.id),
outbox AS (${bossDeleteIds(WEBHOOK_QUEUE, 'ARRAY(SELECT id FROM deliveries)')}),
attempts AS (DELETE FROM job_attempts a WHERE a.job_id = ANY (${VICTIM_IDS})),
events AS (DELETE FROM job_events e WHERE e.job_id = ANY (${VICTIM_IDS})),
progress AS (DELETE FROM job_progress g WHERE g.job_id = ANY (${VICTIM_IDS})),
gone AS (
  DELETE FROM jobs j USING victims v WHERE j.id = v.id RETURNING j.queue, j.finished_at
)
SELECT queue, count(*) AS n, (SELECT count(*) FROM boss) AS boss_rows,
       (SELECT max(finished_at)::text FROM gone) AS cursor
FROM gone WHERE ${schemasServeThisReplica()} GROUP BY queue`;
}

const PURGE = Object.fromEntries(PURGEABLE_STATUSES.map((s) => [s, purgeSql(s)])) as Record<PurgeableStatus, string>;

export interface QueueCount {
  queue: string;
  status: PurgeableStatus;
  n: number;
}

export interface PurgeBatch {
  /** Rows deleted from `jobs`, per queue. */
  counts: QueueCount[];
  jobs: number;
  /** Rows deleted from pgboss.job; differs from `jobs` only if the stores had already drifted. */
  boss: number;
  /** The newest finished_at deleted (exact, as text): the next batch's cursor. */
  cursor: string | undefined;
}

export const CURSOR_START = '-infinity';

export async function purgeBatch(
  db: Queryable,
  status: PurgeableStatus,
  retentionSeconds: number,
  limit: number,
  cursor: string = CURSOR_START,
): Promise<PurgeBatch> {
  const { rows } = await db.query({ name: `purge-${status}`, text: PURGE[status], values: [retentionSeconds, cursor, limit] });
  return {
    counts: rows.map((r) => ({ queue: r.queue, status, n: Number(r.n) })),
    jobs: rows.reduce((a, r) => a + Number(r.n), 0),
    boss: rows.length ? Number(rows[0].boss_rows) : 0,
    cursor: rows[0]?.cursor ?? undefined,
  };
}

function countSql(status: PurgeableStatus): string {
  return `
SELECT queue, count(*) AS n FROM jobs
WHERE status = '${status}' AND finished_at < now() - make_interval(secs => $1::float8)
GROUP BY queue ORDER BY queue`;
}

const COUNT = Object.fromEntries(PURGEABLE_STATUSES.map((s) => [s, countSql(s)])) as Record<PurgeableStatus, string>;

/** What a purge would delete now: rows per queue for one status (dry run). */
export async function countExpired(db: Queryable, status: PurgeableStatus, retentionSeconds: number): Promise<QueueCount[]> {
  const { rows } = await db.query(COUNT[status], [retentionSeconds]);
  return rows.map((r) => ({ queue: r.queue, status, n: Number(r.n) }));
}
