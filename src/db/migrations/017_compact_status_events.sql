-- Compact status events. A status event (migration 007) stored the whole job without its
-- input: about 900 bytes, three for every job run through the API, so 58% of a finished
-- job's disk and most of the pages the retention purge dirties. Half of that
-- snapshot never changes over a job's life (its id, owner, queue, keys, priority,
-- creation, callback). A status event now stores only the fields that do change
-- (job_status_json); readers put the fixed ones back from the job row,
-- `job_fixed_json(j) || data` (src/jobs/event-store.ts), which is the same snapshot. Events
-- written before this migration hold the whole snapshot, and the same read returns them
-- unchanged (a fixed field in `data` wins, with the same value).
--
-- An older build would stream the compact events as they are: this migration raises the
-- schema floor (016, src/db/schema-guard.ts), so older replicas stop writing and exit.

-- What a job keeps from its creation on: nothing in the service updates these.
CREATE FUNCTION job_fixed_json(j jobs) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', j.id, 'owner_service', j.owner_service, 'owner_ref', j.owner_ref,
    'task_type', j.task_type, 'model_profile', j.model_profile, 'priority', j.priority,
    'max_deferrals', j.max_deferrals, 'start_before', api_ts(j.start_before),
    'idempotency_key', j.idempotency_key, 'created_at', api_ts(j.created_at),
    'callback_url', j.callback_url, 'callback_events', to_jsonb(j.callback_events))
$$;

-- What changes over a job's life: the part of the job a status event stores.
CREATE FUNCTION job_status_json(j jobs) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'status', j.status, 'result', j.result,
    'error', CASE WHEN j.error IS NULL THEN NULL
                  ELSE jsonb_build_object('category', j.error ->> 'category', 'message', j.error ->> 'message') END,
    'attempts', j.attempts, 'max_attempts', j.max_attempts, 'deferrals', j.deferrals,
    'worker_id', j.worker_id, 'lease_expires_at', api_ts(j.lease_expires_at), 'run_after', api_ts(j.run_after),
    'updated_at', api_ts(j.updated_at), 'started_at', api_ts(j.started_at), 'finished_at', api_ts(j.finished_at))
$$;

-- A job as the API shows it, without `input`: the two halves, so none of the three drifts.
CREATE OR REPLACE FUNCTION job_summary_json(j jobs) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT job_fixed_json(j) || job_status_json(j)
$$;

CREATE OR REPLACE FUNCTION jobs_log_status_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  first_id bigint;
  last_id  bigint;
BEGIN
  IF TG_OP = 'INSERT' THEN
    WITH e AS (
      INSERT INTO job_events (job_id, kind, data)
      SELECT n.id, 'status', job_status_json(n) FROM new_rows n ORDER BY n.id
      RETURNING id)
    SELECT min(id), max(id) INTO first_id, last_id FROM e;
  ELSE
    WITH e AS (
      INSERT INTO job_events (job_id, kind, data)
      SELECT n.id, 'status', job_status_json(n)
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

UPDATE schema_compat SET oldest_build = 17;
