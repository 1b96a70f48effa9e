-- Live progress for callers. Workers report progress on a held lease (job_progress,
-- one row per job, latest wins). Every status change and every stored progress
-- appends to job_events in the same transaction as the change, and notifies the
-- range of new event ids on `ai_service_job_events`, so an event stream on any
-- replica learns of it (LISTEN) and a reconnecting stream resumes after the last
-- event id it saw (Last-Event-ID) without losing a status change. Both tables go
-- with their job (ON DELETE CASCADE, the retention purge).

CREATE TABLE job_progress (
  job_id     uuid PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
  fraction   double precision CHECK (fraction BETWEEN 0 AND 1),
  message    text,
  output     jsonb,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE job_events (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id     uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  kind       text NOT NULL CHECK (kind IN ('status', 'progress')),
  data       jsonb NOT NULL,   -- status: the job without `input`; progress: the progress
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_events_job_idx ON job_events (job_id, id);

-- Jobs still to finish when this runs get their current status as their first event,
-- so their streams start with it (finished jobs are left alone: there may be millions).
INSERT INTO job_events (job_id, kind, data)
SELECT j.id, 'status', job_json(j) - 'input' FROM jobs j WHERE j.status IN ('pending', 'running') ORDER BY j.id;

-- Statement-level with transition tables: a batch create or a claim of 100 jobs
-- appends its events in one INSERT and sends one notification with the id range.
-- The status snapshot leaves out `input` (up to 1 MiB, and the caller sent it).
CREATE FUNCTION jobs_log_status_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  first_id bigint;
  last_id  bigint;
BEGIN
  IF TG_OP = 'INSERT' THEN
    WITH e AS (
      INSERT INTO job_events (job_id, kind, data)
      SELECT n.id, 'status', job_json(n) - 'input' FROM new_rows n ORDER BY n.id
      RETURNING id)
    SELECT min(id), max(id) INTO first_id, last_id FROM e;
  ELSE
    WITH e AS (
      INSERT INTO job_events (job_id, kind, data)
      SELECT n.id, 'status', job_json(n) - 'input'
      FROM new_rows n JOIN old_rows o ON o.id = n.id
      WHERE o.status IS DISTINCT FROM n.status ORDER BY n.id
      RETURNING id)
    SELECT min(id), max(id) INTO first_id, last_id FROM e;
  END IF;
  IF first_id IS NOT NULL THEN
    PERFORM pg_notify('ai_service_job_events', first_id || ' ' || last_id);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER jobs_log_status_on_insert AFTER INSERT ON jobs
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION jobs_log_status_events();
CREATE TRIGGER jobs_log_status_on_update AFTER UPDATE ON jobs
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION jobs_log_status_events();

-- A `job.progress` callback (opted into with `progress` in callback_events): a delivery
-- and its pg-boss job, as jobs_enqueue_webhook (migration 003) writes them.
CREATE FUNCTION job_progress_webhook(p_job_id uuid, p_url text, p_payload jsonb) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
  delivery uuid := gen_random_uuid();
BEGIN
  INSERT INTO webhook_deliveries (id, job_id, event, url, payload)
  VALUES (delivery, p_job_id, 'job.progress', p_url, p_payload);
  INSERT INTO pgboss.job (id, name, data, state, retry_limit, retry_delay, retry_backoff, retry_delay_max,
                          expire_seconds, deletion_seconds, keep_until, policy)
  SELECT delivery, q.name, jsonb_build_object('delivery_id', delivery, 'job_id', p_job_id), 'created',
         q.retry_limit, q.retry_delay, q.retry_backoff, q.retry_delay_max, q.expire_seconds, 0, 'infinity', q.policy
  FROM pgboss.queue q WHERE q.name = 'webhooks';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'pg-boss queue "webhooks" does not exist';
  END IF;
  RETURN delivery;
END $$;
