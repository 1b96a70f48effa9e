-- Exact, cheap job counts without count(*) over the jobs table.
--
-- Statement-level triggers write signed deltas into job_stat_deltas in the same
-- transaction as the change, so counts can never drift from the rows. Appending
-- (instead of updating one counter row per queue) means concurrent writers never
-- queue behind a hot row lock. A rollup on the leader replica folds the deltas into
-- job_stats every second; a reader sums both tables in one snapshot, which is exact.
--
-- key            bucket          meaning
-- status:<s>     -infinity       jobs currently in status <s> (a gauge)
-- finished:<s>   minute          jobs that reached completed/failed in that minute
-- error:<cat>    -infinity       errors recorded with category <cat>, all time
-- error:<cat>    minute          the same, per minute (for "last hour")
-- purged         -infinity       rows removed by the retention purge

CREATE TABLE job_stats (
  queue  text NOT NULL,
  key    text NOT NULL,
  bucket timestamptz NOT NULL,
  n      bigint NOT NULL,
  PRIMARY KEY (queue, key, bucket)
);

CREATE TABLE job_stat_deltas (
  queue  text NOT NULL,
  key    text NOT NULL,
  bucket timestamptz NOT NULL,
  n      bigint NOT NULL
);

CREATE FUNCTION jobs_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO job_stat_deltas (queue, key, bucket, n)
  SELECT queue, 'status:' || status, '-infinity', count(*) FROM new_rows GROUP BY 1, 2;
  -- Wake long-polling claimers (src/jobs/waiters.ts); delivered at commit.
  PERFORM pg_notify('ai_service_jobs', q)
  FROM (SELECT DISTINCT queue AS q FROM new_rows WHERE status = 'pending' AND run_after <= now()) s;
  RETURN NULL;
END $$;

CREATE FUNCTION jobs_count_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO job_stat_deltas (queue, key, bucket, n)
  SELECT queue, key, bucket, sum(n) FROM (
    SELECT o.queue, 'status:' || o.status AS key, '-infinity'::timestamptz AS bucket, -1 AS n
      FROM old_rows o JOIN new_rows n USING (id) WHERE o.status <> n.status
    UNION ALL
    SELECT n.queue, 'status:' || n.status, '-infinity', 1
      FROM old_rows o JOIN new_rows n USING (id) WHERE o.status <> n.status
    UNION ALL
    SELECT n.queue, 'finished:' || n.status, date_trunc('minute', now()), 1
      FROM old_rows o JOIN new_rows n USING (id)
      WHERE o.status <> n.status AND n.status IN ('completed', 'failed')
    UNION ALL
    SELECT n.queue, 'error:' || (n.error ->> 'category'), b.bucket, 1
      FROM old_rows o JOIN new_rows n USING (id)
      CROSS JOIN (VALUES ('-infinity'::timestamptz), (date_trunc('minute', now()))) AS b (bucket)
      WHERE n.error_at IS DISTINCT FROM o.error_at AND n.error IS NOT NULL
  ) d
  GROUP BY queue, key, bucket
  HAVING sum(n) <> 0;
  PERFORM pg_notify('ai_service_jobs', q)
  FROM (SELECT DISTINCT queue AS q FROM new_rows WHERE status = 'pending' AND run_after <= now()) s;
  RETURN NULL;
END $$;

CREATE FUNCTION jobs_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO job_stat_deltas (queue, key, bucket, n)
  SELECT queue, 'status:' || status, '-infinity'::timestamptz, -count(*) FROM old_rows GROUP BY 1, 2
  UNION ALL
  SELECT queue, 'purged', '-infinity'::timestamptz, count(*) FROM old_rows GROUP BY 1;
  RETURN NULL;
END $$;

CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_insert();
CREATE TRIGGER jobs_count_update AFTER UPDATE ON jobs
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_update();
CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_delete();
