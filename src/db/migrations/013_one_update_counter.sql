-- One trigger counts what an update of jobs changes: status gauges, finished, errors
-- (migrations 002, 008), delayed (010) and deferrals (006). They were three statement
-- triggers, each joining the old rows to the new; every claim, heartbeat, complete and
-- fail ran all three. One join now serves them all: 0.1-0.2 ms less per claim at p50
-- (interleaved runs of claim + complete at 100,000 jobs, one client). The insert and
-- delete triggers stay as they are.
CREATE OR REPLACE FUNCTION jobs_count_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  WITH c AS MATERIALIZED (
    SELECT o.queue AS old_queue, o.status AS old_status, o.delayed AS old_delayed,
           n.queue, n.status, n.delayed, n.error,
           n.error_at IS DISTINCT FROM o.error_at AND n.error IS NOT NULL AS errored,
           n.deferrals > o.deferrals AS deferred
    FROM old_rows o JOIN new_rows n USING (id)
  ),
  minute AS (SELECT * FROM (VALUES ('-infinity'::timestamptz), (date_trunc('minute', now()))) AS b (bucket))
  INSERT INTO job_stat_deltas (queue, key, bucket, n)
  SELECT queue, key, bucket, sum(n) FROM (
    SELECT old_queue AS queue, 'status:' || old_status AS key, '-infinity'::timestamptz AS bucket, -1 AS n
      FROM c WHERE old_status <> status
    UNION ALL
    SELECT queue, 'status:' || status, '-infinity', 1 FROM c WHERE old_status <> status
    UNION ALL
    SELECT queue, 'finished:' || status, date_trunc('minute', now()), 1
      FROM c WHERE old_status <> status AND status IN ('completed', 'failed')
    UNION ALL
    SELECT queue, ai_error_key(queue, error ->> 'category'), b.bucket, 1 FROM c CROSS JOIN minute b WHERE errored
    UNION ALL
    SELECT queue, 'deferred:' || (error ->> 'category'), b.bucket, 1 FROM c CROSS JOIN minute b WHERE deferred
    UNION ALL
    SELECT old_queue, 'delayed', '-infinity', -1
      FROM c WHERE old_status = 'pending' AND old_delayed AND NOT (status = 'pending' AND delayed)
    UNION ALL
    SELECT queue, 'delayed', '-infinity', 1
      FROM c WHERE status = 'pending' AND delayed AND NOT (old_status = 'pending' AND old_delayed)
  ) d
  GROUP BY queue, key, bucket
  HAVING sum(n) <> 0;
  -- Wake long-polling claimers (src/jobs/waiters.ts); delivered at commit.
  PERFORM pg_notify('ai_service_jobs', q)
  FROM (SELECT DISTINCT queue AS q FROM new_rows WHERE status = 'pending' AND run_after <= now()) s;
  RETURN NULL;
END $$;

DROP TRIGGER jobs_count_delayed_update ON jobs;
DROP TRIGGER jobs_count_deferrals ON jobs;
DROP FUNCTION jobs_count_deferrals();
