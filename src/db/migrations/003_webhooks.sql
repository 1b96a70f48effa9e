-- Completion callbacks. A row trigger on jobs records a delivery and enqueues its
-- pg-boss job (queue `webhooks`) in the same transaction as the state change that
-- caused it: a committed change always produces its delivery, a rolled-back one never
-- does. The delivery id is the `webhook-id` header, stable across retries.

CREATE TABLE webhook_deliveries (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  job_id           uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  event            text NOT NULL,
  url              text NOT NULL,
  payload          jsonb NOT NULL,          -- the body, frozen when the event happened
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  last_status_code integer,
  last_error       text,
  next_attempt_at  timestamptz DEFAULT now(),
  delivered_at     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_job_idx ON webhook_deliveries (job_id, created_at DESC);

-- RFC 3339 in UTC with milliseconds, the way the API writes timestamps.
CREATE FUNCTION api_ts(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- A job as the API shows it (GET /api/v1/jobs/{id} without history).
CREATE FUNCTION job_json(j jobs) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', j.id, 'owner_service', j.owner_service, 'owner_ref', j.owner_ref,
    'task_type', j.task_type, 'model_profile', j.model_profile, 'status', j.status,
    'priority', j.priority, 'input', j.input, 'result', j.result,
    'error', CASE WHEN j.error IS NULL THEN NULL
                  ELSE jsonb_build_object('category', j.error ->> 'category', 'message', j.error ->> 'message') END,
    'attempts', j.attempts, 'max_attempts', j.max_attempts, 'idempotency_key', j.idempotency_key,
    'worker_id', j.worker_id, 'lease_expires_at', api_ts(j.lease_expires_at), 'run_after', api_ts(j.run_after),
    'created_at', api_ts(j.created_at), 'updated_at', api_ts(j.updated_at),
    'started_at', api_ts(j.started_at), 'finished_at', api_ts(j.finished_at),
    'callback_url', j.callback_url, 'callback_events', to_jsonb(j.callback_events))
$$;

CREATE FUNCTION jobs_enqueue_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  delivery uuid := gen_random_uuid();
BEGIN
  IF NEW.status <> ALL (COALESCE(NEW.callback_events, ARRAY['completed', 'failed', 'cancelled'])) THEN
    RETURN NULL;
  END IF;
  INSERT INTO webhook_deliveries (id, job_id, event, url, payload)
  VALUES (delivery, NEW.id, 'job.' || NEW.status, NEW.callback_url,
          jsonb_build_object('type', 'job.' || NEW.status, 'timestamp', api_ts(now()), 'data', job_json(NEW)));
  -- Retry settings come from the `webhooks` queue (set from WEBHOOK_* config at start),
  -- as pg-boss's own insert does; the rest mirrors src/jobs/create-store.ts.
  INSERT INTO pgboss.job (id, name, data, state, retry_limit, retry_delay, retry_backoff, retry_delay_max,
                          expire_seconds, deletion_seconds, keep_until, policy)
  SELECT delivery, q.name, jsonb_build_object('delivery_id', delivery, 'job_id', NEW.id), 'created',
         q.retry_limit, q.retry_delay, q.retry_backoff, q.retry_delay_max, q.expire_seconds, 0, 'infinity', q.policy
  FROM pgboss.queue q WHERE q.name = 'webhooks';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'pg-boss queue "webhooks" does not exist';
  END IF;
  RETURN NULL;
END $$;

-- Row-level with a WHEN clause: evaluated without entering plpgsql, so jobs without
-- a callback (the hot path) pay almost nothing.
CREATE TRIGGER jobs_enqueue_webhook AFTER UPDATE OF status ON jobs
  FOR EACH ROW WHEN (NEW.callback_url IS NOT NULL AND OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION jobs_enqueue_webhook();
