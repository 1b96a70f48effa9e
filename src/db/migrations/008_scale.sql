-- Holding at 10 million jobs.
--
-- 1. GET /jobs: one index per documented filter, each ending in `id DESC` so a page
--    (ORDER BY id DESC LIMIT n, keyset on id) reads n index entries, not the table.
--    owner_ref already has jobs_owner_ref_idx (001).
CREATE INDEX jobs_owner_service_idx ON jobs (owner_service, id DESC);
CREATE INDEX jobs_type_profile_idx ON jobs (task_type, model_profile, id DESC);
CREATE INDEX jobs_status_idx ON jobs (status, id DESC);
CREATE INDEX jobs_error_category_idx ON jobs ((error ->> 'category'), id DESC) WHERE error IS NOT NULL;

-- 2. Heartbeats without index churn. A heartbeat changes lease_expires_at and
--    updated_at; with jobs_lease_idx on lease_expires_at no heartbeat could be a HOT
--    update, so each one added an entry to every index of `jobs`. The reaper now finds
--    expired leases through the open attempt (job_attempts, whose lease_expires_at
--    the heartbeat keeps equal), a small table whose open rows are the running jobs;
--    `jobs` keeps no index on a lease field, and fillfactor leaves room on each page
--    for the new row version, so heartbeats stay on the page (HOT).
DROP INDEX jobs_lease_idx;
CREATE INDEX job_attempts_open_lease_idx ON job_attempts (lease_expires_at) WHERE outcome IS NULL;
ALTER TABLE jobs SET (fillfactor = 85);
ALTER TABLE job_attempts SET (fillfactor = 85);

-- Idle queues are dropped (src/retention/idle-queues.ts): since when a queue has held no job.
ALTER TABLE job_queues ADD COLUMN empty_since timestamptz;

-- 3. The version guard, inside every statement that writes both stores (mirror.ts
--    bothStoresMoved): a replica built for one pg-boss schema stops writing the
--    moment a newer pg-boss has migrated the database. SQLSTATE AIV01 is ours alone:
--    the HTTP layer answers 503 and the process exits (src/pgboss/version-guard.ts).
--    pgboss.version is a one-row table; the call runs once per statement.
CREATE FUNCTION ai_pgboss_schema_is(expected integer, package text) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
  found integer;
BEGIN
  SELECT version INTO found FROM pgboss.version;
  IF found IS DISTINCT FROM expected THEN
    RAISE EXCEPTION 'the database''s pg-boss schema is version %, but this replica writes version % (pg-boss %)',
      found, expected, package USING ERRCODE = 'AIV01';
  END IF;
  RETURN true;
END $$;

-- 4. Error counters stay bounded. Workers name error categories freely (any slug), so
--    a buggy worker could create a counter per message. Each queue keeps at most 50
--    categories (ai_error_key); later new categories count under `error:other`.
--    A known category is one index probe; only a new one pays the count. Concurrent
--    statements (or one statement failing many jobs) each bringing a new category may
--    pass 50 by the number of rows they carry: bounded by the writers, not by time.
CREATE FUNCTION ai_error_key(q text, category text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN EXISTS (SELECT 1 FROM job_stats WHERE queue = q AND key = 'error:' || category AND bucket = '-infinity')
      OR EXISTS (SELECT 1 FROM job_stat_deltas WHERE queue = q AND key = 'error:' || category)
      OR (SELECT count(*) FROM (
            SELECT key FROM job_stats WHERE queue = q AND key >= 'error:' AND key < 'error;' AND bucket = '-infinity'
            UNION SELECT key FROM job_stat_deltas WHERE queue = q AND key >= 'error:' AND key < 'error;') k) < 50
    THEN 'error:' || category
    ELSE 'error:other' END
$$;

CREATE OR REPLACE FUNCTION jobs_count_update() RETURNS trigger LANGUAGE plpgsql AS $$
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
    SELECT n.queue, ai_error_key(n.queue, n.error ->> 'category'), b.bucket, 1
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
