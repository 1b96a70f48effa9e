-- A job's lookup keys (owner_ref, idempotency key) move out of `jobs`, into a table
-- written once per job.
--
-- Every claim and every settle is an update of `jobs` that cannot be HOT (it
-- changes status, which the claim and status indexes hold), so it adds an entry to
-- every index of `jobs`, unchanged keys included. For jobs_owner_ref_idx and
-- jobs_idempotency_key_idx that entry lands at the job's owner_ref or key, in no
-- useful order: at 10 M jobs the leaf page is rarely in memory and rarely written
-- since the last checkpoint, so each claim and each complete read a page from disk
-- and wrote it whole into the WAL (jobs_owner_ref_idx: 1.0 full-page image per
-- claim + complete, the most of any relation; scripts/bench/README.md). Neither key
-- ever changes, so their indexes need not be touched after the job is created.
--
-- job_keys holds them. The create statement inserts a job's row here first, with
-- the unique key as its arbiter, and the job only when that row went in
-- (src/jobs/create-store.ts). The statement triggers below keep the table for every
-- other writer (adoption, an older replica, ops' own SQL) and delete a job's row
-- with the job (the purge, whoever else deletes). Readers: src/jobs/job-keys.ts.
-- Older replicas' creates fail once this has run: roll it out as src/db/README.md says.
CREATE TABLE job_keys (
  job_id          uuid PRIMARY KEY,
  owner_service   text NOT NULL,
  owner_ref       text NOT NULL,
  idempotency_key text
);
CREATE INDEX job_keys_owner_ref_idx ON job_keys (owner_ref, job_id DESC);
CREATE UNIQUE INDEX job_keys_idempotency_idx ON job_keys (owner_service, idempotency_key)
  WHERE idempotency_key IS NOT NULL;

-- Rows the create statement wrote are skipped (ON CONFLICT on job_id); a key another
-- job holds still raises unique_violation. = ANY(ARRAY(...)) pins the delete to the
-- primary key, as in the purge (src/retention/purge-store.ts).
CREATE FUNCTION jobs_keep_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO job_keys (job_id, owner_service, owner_ref, idempotency_key)
    SELECT id, owner_service, owner_ref, idempotency_key FROM new_rows
    ON CONFLICT (job_id) DO NOTHING;
  ELSIF TG_OP = 'DELETE' THEN
    DELETE FROM job_keys WHERE job_id = ANY (ARRAY(SELECT id FROM old_rows));
  ELSE
    TRUNCATE job_keys;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_keys_insert AFTER INSERT ON jobs
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION jobs_keep_keys();
CREATE TRIGGER jobs_keys_delete AFTER DELETE ON jobs
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION jobs_keep_keys();
CREATE TRIGGER jobs_keys_truncate AFTER TRUNCATE ON jobs
  FOR EACH STATEMENT EXECUTE FUNCTION jobs_keep_keys();

-- job_keys copies them once; a change would leave it stale.
CREATE FUNCTION jobs_keys_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.owner_service, NEW.owner_ref, NEW.idempotency_key) IS DISTINCT FROM (OLD.owner_service, OLD.owner_ref, OLD.idempotency_key) THEN
    RAISE EXCEPTION 'owner_service, owner_ref and idempotency_key of job % cannot change', OLD.id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER jobs_keys_fixed BEFORE UPDATE OF owner_service, owner_ref, idempotency_key ON jobs
  FOR EACH ROW EXECUTE FUNCTION jobs_keys_fixed();

-- The jobs so far. CREATE TRIGGER locked out writers of jobs until this migration
-- commits, so no job is copied twice or missed.
INSERT INTO job_keys (job_id, owner_service, owner_ref, idempotency_key)
SELECT id, owner_service, owner_ref, idempotency_key FROM jobs;
DROP INDEX jobs_owner_ref_idx;
DROP INDEX jobs_idempotency_key_idx;
