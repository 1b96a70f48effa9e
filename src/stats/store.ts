// Reading and compacting the job counters kept by the jobs triggers
// (migrations 002, 006, 010). A read sums job_stats and the not-yet-compacted deltas
// in one statement, so it sees one snapshot and is exact; it never counts job rows
// (the oldest ready job per queue is one index entry).
import type { Queryable } from '../db/pool.ts';

/** Minute buckets are kept this long; "last hour" needs 60 of them. */
const BUCKET_KEEP = '2 hours';

const ROLLUP = `
WITH d AS (DELETE FROM job_stat_deltas RETURNING queue, key, bucket, n)
INSERT INTO job_stats AS s (queue, key, bucket, n)
SELECT queue, key, bucket, sum(n) FROM d GROUP BY 1, 2, 3
ON CONFLICT (queue, key, bucket) DO UPDATE SET n = s.n + excluded.n`;

export async function rollupStats(db: Queryable): Promise<void> {
  await db.query(ROLLUP);
  await db.query(`DELETE FROM job_stats WHERE bucket > '-infinity' AND bucket < now() - interval '${BUCKET_KEEP}'`);
}

const READ = `
WITH counts AS (
  SELECT queue, key,
         COALESCE(sum(n) FILTER (WHERE bucket = '-infinity'), 0) AS total,
         COALESCE(sum(n) FILTER (WHERE bucket > now() - interval '1 hour'), 0) AS last_hour
  FROM (SELECT queue, key, bucket, n FROM job_stats
        UNION ALL SELECT queue, key, bucket, n FROM job_stat_deltas) x
  GROUP BY queue, key
),
queues AS (
  SELECT q.name AS queue, q.task_type, q.model_profile,
    (SELECT extract(epoch FROM now() - min(j.run_after)) FROM jobs j
      WHERE j.status = 'pending' AND j.queue = q.name AND j.run_after <= now()) AS oldest_ready_age_seconds
  FROM job_queues q
)
SELECT now() AS generated_at,
       COALESCE((SELECT json_agg(counts ORDER BY queue, key) FROM counts), '[]') AS counts,
       COALESCE((SELECT json_agg(queues ORDER BY queue) FROM queues), '[]') AS queues`;

export interface CounterRow {
  queue: string;
  key: string;
  total: number;
  last_hour: number;
}

export interface QueueRow {
  queue: string;
  task_type: string;
  model_profile: string;
  oldest_ready_age_seconds: number | null;
}

export async function readStats(db: Queryable): Promise<{ generated_at: string; counts: CounterRow[]; queues: QueueRow[] }> {
  const { rows } = await db.query({ name: 'read-stats', text: READ });
  return rows[0];
}
