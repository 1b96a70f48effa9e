-- "Find the jobs of one owner_ref" moves out of `jobs`, into an insert-only table.
--
-- Every claim and every settle is an update of `jobs` that cannot be HOT (it
-- changes status, which the claim and status indexes hold), so it adds an entry to
-- every index of `jobs`, unchanged keys included. For jobs_owner_ref_idx that entry
-- lands at the job's owner_ref, a key in no useful order: at 10 M jobs its leaf
-- page is rarely in memory and rarely written since the last checkpoint, so each
-- claim and each complete read a page from disk and wrote it whole into the WAL
-- (1.0 full-page image per claim + complete, the most of any relation;
-- scripts/bench/README.md). An owner_ref never changes, so its index need not be
-- touched after the job is created: job_owner_refs holds (owner_ref, job_id),
-- written once by the insert trigger below and deleted by the purge with the job's
-- other rows (src/retention/purge-store.ts), keyed by job_id so the purge deletes
-- in id order. Readers look ids up here (src/jobs/read-store.ts, bulk-store.ts,
-- event-store.ts).
CREATE TABLE job_owner_refs (
  job_id    uuid PRIMARY KEY,
  owner_ref text NOT NULL
);
CREATE INDEX job_owner_refs_ref_idx ON job_owner_refs (owner_ref, job_id DESC);

CREATE FUNCTION jobs_note_owner_refs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO job_owner_refs (job_id, owner_ref) SELECT id, owner_ref FROM new_rows;
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_note_owner_refs AFTER INSERT ON jobs
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION jobs_note_owner_refs();

-- The lookup table copies owner_ref once; a change would leave it stale.
CREATE FUNCTION jobs_keep_owner_ref() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.owner_ref IS DISTINCT FROM OLD.owner_ref THEN
    RAISE EXCEPTION 'owner_ref of job % cannot change', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER jobs_keep_owner_ref BEFORE UPDATE OF owner_ref ON jobs
  FOR EACH ROW EXECUTE FUNCTION jobs_keep_owner_ref();

-- The jobs so far. CREATE TRIGGER locked out writers of jobs until this migration
-- commits, so no job is copied twice or missed.
INSERT INTO job_owner_refs (job_id, owner_ref) SELECT id, owner_ref FROM jobs;
DROP INDEX jobs_owner_ref_idx;
