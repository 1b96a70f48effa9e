// Queue depth for pg-boss's own tools, from our counters. getQueues, getQueueStats and
// @pg-boss/dashboard read the count columns of pgboss.queue, which pg-boss's supervise
// pass fills by counting every row of each queue (an aggregate over pgboss.job: 975 ms
// per pass at 1,000,000 jobs, growing with the table). Our queues' figures are already
// kept exactly, in the same transaction as every change (the /stats figures of
// service.ts), so the leader writes them into those columns instead and supervises only
// the queue pg-boss itself works (webhooks). The columns then say what a count over
// pgboss.job would: every job is one row in both stores, in the state its status maps to.
import type { Queryable } from '../db/pool.ts';
import { PGBOSS_SCHEMA } from '../pgboss/mirror.ts';
import { queueFigures } from './service.ts';

/** How often the counts are written (pg-boss's own pass runs every 60 s). */
export const QUEUE_COUNTS_INTERVAL_MS = 10_000;
/** Samples kept in ready_history, the dashboard's sparkline: pg-boss keeps 60, newest first. */
const READY_HISTORY_SIZE = 60;

// pg-boss's meaning of each column, over the queue's rows: queued = created or retry (our
// pending); deferred = queued with start_after in the future (our delayed); ready; active
// (running); failed; total = every row. The queue rows are locked in name order, as
// pg-boss's own pass does, so the two never deadlock.
const WRITE_COUNTS = `
WITH c AS (
  SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::int[], $5::int[], $6::int[], $7::int[])
    AS c (queue, queued, deferred, ready, active, failed, total)
),
locked AS (
  SELECT p.name FROM ${PGBOSS_SCHEMA}.queue p JOIN c ON c.queue = p.name ORDER BY p.name FOR NO KEY UPDATE OF p
)
UPDATE ${PGBOSS_SCHEMA}.queue p SET
  queued_count = c.queued, deferred_count = c.deferred, ready_count = c.ready, active_count = c.active,
  failed_count = c.failed, total_count = c.total, monitor_on = now(),
  ready_history = c.ready || COALESCE(p.ready_history[1:${READY_HISTORY_SIZE - 1}], '{}'::int[])
FROM c JOIN locked l ON l.name = c.queue
WHERE p.name = c.queue`;

/** Writes every one of our queues' counts into pgboss.queue; returns how many queues. */
export async function writeQueueCounts(db: Queryable): Promise<number> {
  const qs = await queueFigures(db);
  const { rowCount } = await db.query({
    name: 'pgboss-queue-counts',
    text: WRITE_COUNTS,
    values: [
      qs.map((q) => q.queue),
      qs.map((q) => q.pending),
      qs.map((q) => q.delayed),
      qs.map((q) => q.ready),
      qs.map((q) => q.running),
      qs.map((q) => q.failed),
      qs.map((q) => q.pending + q.running + q.completed + q.failed + q.cancelled),
    ],
  });
  return rowCount ?? 0;
}
