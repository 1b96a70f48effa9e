-- What pg-boss's own tools do to our jobs. Ops use pg-boss's API and dashboard on
-- the same database: fetch, complete, fail, cancel, resume, retry, deleteJob, send.
-- Those write pgboss.job behind our back. Row triggers on pgboss.job note every
-- such change in pgboss_changes (the service's own connections, application_name
-- 'ai-service', write both stores in one statement and are not noted); the leader
-- adopts each noted change into `jobs` in bounded batches (src/jobs/adoption.ts).
-- The triggers only append a row, so pg-boss's own statements stay cheap, and the
-- adoption pass reads exactly the changed jobs, never a scan of either table.

CREATE TABLE pgboss_changes (
  seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  queue      text NOT NULL,
  job_id     uuid NOT NULL,
  changed_at timestamptz NOT NULL DEFAULT now()
);

-- Adoptions appear in the attempt history as their own outcome.
ALTER TABLE job_attempts DROP CONSTRAINT job_attempts_outcome_check;
ALTER TABLE job_attempts ADD CONSTRAINT job_attempts_outcome_check
  CHECK (outcome IN ('completed', 'failed', 'retried', 'lease_expired', 'revoked', 'cancelled', 'adopted'));

CREATE FUNCTION pgboss_note_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO pgboss_changes (queue, job_id) VALUES (OLD.name, OLD.id);
  ELSE
    INSERT INTO pgboss_changes (queue, job_id) VALUES (NEW.name, NEW.id);
  END IF;
  RETURN NULL;
END $$;

-- Installs the triggers once pg-boss's schema exists (our migrations may run before
-- pg-boss installs it; pg-boss's start-up calls this again). The `webhooks` queue is
-- ours alone and worked through pg-boss's API, so it is not watched. Updates that
-- change neither state nor attempt (pg-boss's heartbeat `touch`) are not changes.
CREATE FUNCTION ai_watch_pgboss() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF to_regclass('pgboss.job') IS NULL THEN
    RETURN false;
  END IF;
  -- 4242001 and 4242002 are the migration and leader locks (src/db/migrate.ts, src/leader/leader.ts)
  PERFORM pg_advisory_xact_lock(4242003);
  IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'pgboss.job'::regclass AND tgname = 'ai_service_watch_insert') THEN
    RETURN true;
  END IF;
  CREATE TRIGGER ai_service_watch_insert AFTER INSERT ON pgboss.job FOR EACH ROW
    WHEN (NEW.name <> 'webhooks' AND current_setting('application_name') <> 'ai-service')
    EXECUTE FUNCTION pgboss_note_change();
  CREATE TRIGGER ai_service_watch_update AFTER UPDATE ON pgboss.job FOR EACH ROW
    WHEN (NEW.name <> 'webhooks' AND current_setting('application_name') <> 'ai-service'
          AND (OLD.state IS DISTINCT FROM NEW.state OR OLD.retry_count IS DISTINCT FROM NEW.retry_count))
    EXECUTE FUNCTION pgboss_note_change();
  CREATE TRIGGER ai_service_watch_delete AFTER DELETE ON pgboss.job FOR EACH ROW
    WHEN (OLD.name <> 'webhooks' AND current_setting('application_name') <> 'ai-service')
    EXECUTE FUNCTION pgboss_note_change();
  RETURN true;
END $$;

SELECT ai_watch_pgboss();
