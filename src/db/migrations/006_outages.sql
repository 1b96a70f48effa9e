-- Riding out provider outages (src/jobs/README.md, "Outages").
--
-- deferrals / max_deferrals: a retryable failure in an infrastructure category
--   (provider_unavailable, rate_limited, worker_shutdown) gives the attempt back
--   instead of counting it, at most max_deferrals times per job.
-- start_before: a job not claimed by then is cancelled (error category `expired`)
--   by the leader's expiry task and never claimed after it.
ALTER TABLE jobs
  ADD COLUMN deferrals     integer NOT NULL DEFAULT 0 CHECK (deferrals >= 0),
  ADD COLUMN max_deferrals integer NOT NULL DEFAULT 50 CHECK (max_deferrals BETWEEN 0 AND 1000),
  ADD COLUMN start_before  timestamptz;

-- Expiry: pending jobs with a deadline, soonest first.
CREATE INDEX jobs_start_before_idx ON jobs (start_before)
  WHERE status = 'pending' AND start_before IS NOT NULL;

-- Bulk recovery filters failed jobs by error category: jobs_error_category_idx (008).

-- A deferred attempt appears in the attempt history with its own outcome.
ALTER TABLE job_attempts DROP CONSTRAINT job_attempts_outcome_check;
ALTER TABLE job_attempts ADD CONSTRAINT job_attempts_outcome_check
  CHECK (outcome IN ('completed', 'failed', 'retried', 'deferred', 'lease_expired', 'revoked', 'cancelled', 'adopted'));

-- Deferrals per queue and category, all time and per minute, as the error counters
-- of migration 002 (key deferred:<category>). A trigger of its own, so the counters
-- of 002 stay untouched.
CREATE FUNCTION jobs_count_deferrals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO job_stat_deltas (queue, key, bucket, n)
  SELECT n.queue, 'deferred:' || (n.error ->> 'category'), b.bucket, count(*)
  FROM old_rows o JOIN new_rows n USING (id)
  CROSS JOIN (VALUES ('-infinity'::timestamptz), (date_trunc('minute', now()))) AS b (bucket)
  WHERE n.deferrals > o.deferrals
  GROUP BY 1, 2, 3;
  RETURN NULL;
END $$;

CREATE TRIGGER jobs_count_deferrals AFTER UPDATE ON jobs
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_deferrals();

-- The webhook payload shows the new fields too (same shape as GET /jobs/{id}).
CREATE OR REPLACE FUNCTION job_json(j jobs) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', j.id, 'owner_service', j.owner_service, 'owner_ref', j.owner_ref,
    'task_type', j.task_type, 'model_profile', j.model_profile, 'status', j.status,
    'priority', j.priority, 'input', j.input, 'result', j.result,
    'error', CASE WHEN j.error IS NULL THEN NULL
                  ELSE jsonb_build_object('category', j.error ->> 'category', 'message', j.error ->> 'message') END,
    'attempts', j.attempts, 'max_attempts', j.max_attempts,
    'deferrals', j.deferrals, 'max_deferrals', j.max_deferrals, 'start_before', api_ts(j.start_before),
    'idempotency_key', j.idempotency_key,
    'worker_id', j.worker_id, 'lease_expires_at', api_ts(j.lease_expires_at), 'run_after', api_ts(j.run_after),
    'created_at', api_ts(j.created_at), 'updated_at', api_ts(j.updated_at),
    'started_at', api_ts(j.started_at), 'finished_at', api_ts(j.finished_at),
    'callback_url', j.callback_url, 'callback_events', to_jsonb(j.callback_events))
$$;
