-- Shared GPU capacity and delayed jobs out of the claim path (src/jobs/README.md,
-- "Claim order", "Policies").

-- Delayed jobs. `delayed` is true while a pending job's run_after is in the future;
-- the claim index leaves such jobs out, so a claim never reads past them however many
-- sit in backoff. A row trigger decides it on every write of status or run_after (all
-- writers at once: create, fail with backoff, retry with delay, reaper, adoption,
-- seeders); the leader promotes due jobs (src/jobs/delayed.ts), which fires the jobs
-- update trigger's NOTIFY so long-polls wake.
ALTER TABLE jobs ADD COLUMN delayed boolean NOT NULL DEFAULT false;
UPDATE jobs SET delayed = true WHERE status = 'pending' AND run_after > now();

CREATE FUNCTION jobs_mark_delayed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.delayed := NEW.status = 'pending' AND NEW.run_after > now();
  RETURN NEW;
END $$;
CREATE TRIGGER jobs_mark_delayed BEFORE INSERT OR UPDATE OF status, run_after ON jobs
  FOR EACH ROW EXECUTE FUNCTION jobs_mark_delayed();

-- Promotion of due delayed jobs reads only the delayed ones, oldest run_after first.
CREATE INDEX jobs_delayed_idx ON jobs (run_after) WHERE status = 'pending' AND delayed;

-- Lanes: a claim reads each (queue, owner_service) lane separately, highest priority
-- then oldest, so fair share between owners costs O(limit) index entries per lane.
CREATE INDEX jobs_lane_idx ON jobs (queue, owner_service, priority DESC, id)
  WHERE status = 'pending' AND NOT delayed;
DROP INDEX IF EXISTS jobs_claim_idx;
-- Caps: running jobs of a policy's scope are counted with a bounded count.
CREATE INDEX jobs_running_scope_idx ON jobs (owner_service, model_profile, task_type)
  WHERE status = 'running';

-- The lanes jobs were ever created in (filled on create; a few rows per owner and queue),
-- so a claim knows its lanes without scanning jobs.
CREATE TABLE job_lanes (
  queue         text NOT NULL,
  owner_service text NOT NULL,
  task_type     text NOT NULL,
  model_profile text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (queue, owner_service)
);
INSERT INTO job_lanes (queue, owner_service, task_type, model_profile)
SELECT DISTINCT queue, owner_service, task_type, model_profile FROM jobs
ON CONFLICT DO NOTHING;

-- Policies: weight (fair share), max_running (cap) and paused, per scope. A scope
-- field that is NULL matches everything; the scope is unique.
CREATE TABLE policies (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner_service text,
  task_type     text,
  model_profile text,
  weight        integer NOT NULL DEFAULT 1 CHECK (weight BETWEEN 1 AND 1000),
  max_running   integer CHECK (max_running BETWEEN 0 AND 1000000),
  paused        boolean NOT NULL DEFAULT false,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  updated_by    text,
  CHECK (owner_service IS NOT NULL OR task_type IS NOT NULL OR model_profile IS NOT NULL),
  CHECK (weight = 1 OR (owner_service IS NOT NULL AND task_type IS NULL))
);
CREATE UNIQUE INDEX policies_scope_idx ON policies
  (COALESCE(owner_service, ''), COALESCE(task_type, ''), COALESCE(model_profile, ''));

-- Every replica keeps policies in a cache and reloads it on this notification.
CREATE FUNCTION policies_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('ai_service_policies', '');
  RETURN NULL;
END $$;
CREATE TRIGGER policies_notify AFTER INSERT OR UPDATE OR DELETE ON policies
  FOR EACH STATEMENT EXECUTE FUNCTION policies_notify();

-- Stride scheduling per model profile: each owner's pass grows by 1/weight per
-- claimed job; the owner with the lowest pass is served next. `fair_clock.pass` is
-- the lowest pass among the owners that competed in the last claim: an owner coming
-- back from idle starts there, so idle time banks no credit.
CREATE TABLE fair_share (
  model_profile text NOT NULL,
  owner_service text NOT NULL,
  pass          float8 NOT NULL,
  PRIMARY KEY (model_profile, owner_service)
);
CREATE TABLE fair_clock (
  model_profile text PRIMARY KEY,
  pass          float8 NOT NULL
);

-- Lanes are noted by a statement trigger, so every writer of jobs (the API, adoption
-- of pg-boss sends, seeders) registers them; an existing lane costs one index probe.
CREATE FUNCTION jobs_note_lanes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO job_lanes (queue, owner_service, task_type, model_profile)
  SELECT DISTINCT queue, owner_service, task_type, model_profile FROM new_rows
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_note_lanes AFTER INSERT ON jobs
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION jobs_note_lanes();

-- Owner lanes: a claim naming only model profiles (the usual worker) reads `limit`
-- entries per (model_profile, owner_service), however many queues the profile has;
-- per-queue lanes cost one index probe per queue and owner (400 at 20 × 20).
CREATE INDEX jobs_owner_lane_idx ON jobs (model_profile, owner_service, priority DESC, id)
  WHERE status = 'pending' AND NOT delayed;
