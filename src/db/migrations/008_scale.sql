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
