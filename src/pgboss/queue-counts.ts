// Queue depth for pg-boss's own tools, from our counters. getQueues, getQueueStats and
// @pg-boss/dashboard read the count columns of pgboss.queue, which pg-boss's supervise
// pass fills by counting every row of each queue (an aggregate over pgboss.job: 1.3 s
// per pass at 1,000,000 jobs, growing with the table). Our queues' counts are already
// kept exactly, in the same transaction as every change (job_stats, src/stats), so the
// leader writes them into those columns instead and supervises only the queue pg-boss
// itself works (webhooks). The columns then say what a count over pgboss.job would:
// every job is one row in both stores, in the state its status maps to (mirror.ts).
import type { Queryable } from '../db/pool.ts';
import { PGBOSS_SCHEMA } from './mirror.ts';

/** How often the counts are written (pg-boss's own pass runs every 60 s). */
export const QUEUE_COUNTS_INTERVAL_MS = 10_000;
/** Samples kept in ready_history, the dashboard's sparkline: pg-boss keeps 60, newest first. */
const READY_HISTORY_SIZE = 60;

// pg-boss's meaning of each column, over the queue's rows: queued = created or retry;
// deferred = queued with start_after in the future (our delayed: run_after ahead);
// ready = queued - deferred; active; failed; total = every row. The queue rows are
// locked in name order, as pg-boss's own pass does, so the two never deadlock.
const WRITE_COUNTS = `
WITH statuses AS (
  SELECT queue, sum(n) FILTER (WHERE key = 'status:pending') AS pending,
         sum(n) FILTER (WHERE key = 'status:running') AS running,
         sum(n) FILTER (WHERE key = 'status:failed') AS failed,
         sum(n) AS total
  FROM (SELECT queue, key, n FROM job_stats WHERE bucket = '-infinity' AND key LIKE 'status:%'
        UNION ALL
        SELECT queue, key, n FROM job_stat_deltas WHERE bucket = '-infinity' AND key LIKE 'status:%') s
  GROUP BY queue
),
counts AS (
  SELECT q.name AS queue, COALESCE(s.pending, 0) AS queued, COALESCE(s.running, 0) AS active,
         COALESCE(s.failed, 0) AS failed, COALESCE(s.total, 0) AS total,
         (SELECT count(*) FROM jobs j WHERE j.status = 'pending' AND j.queue = q.name AND j.run_after > now()) AS deferred
  FROM job_queues q LEFT JOIN statuses s ON s.queue = q.name
),
locked AS (
  SELECT p.name FROM ${PGBOSS_SCHEMA}.queue p JOIN counts c ON c.queue = p.name ORDER BY p.name FOR NO KEY UPDATE OF p
)
UPDATE ${PGBOSS_SCHEMA}.queue p SET
  queued_count = c.queued, deferred_count = c.deferred, ready_count = c.queued - c.deferred,
  active_count = c.active, failed_count = c.failed, total_count = c.total, monitor_on = now(),
  ready_history = (c.queued - c.deferred)::int || COALESCE(p.ready_history[1:${READY_HISTORY_SIZE - 1}], '{}'::int[])
FROM counts c JOIN locked l ON l.name = c.queue
WHERE p.name = c.queue`;

/** Writes every one of our queues' counts into pgboss.queue; returns how many queues. */
export async function writeQueueCounts(db: Queryable): Promise<number> {
  const { rowCount } = await db.query({ name: 'pgboss-queue-counts', text: WRITE_COUNTS });
  return rowCount ?? 0;
}
