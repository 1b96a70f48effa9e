-- The job lifecycle store. Each row mirrors one pg-boss job (same id, in the
-- pg-boss queue named by `queue`); every state change writes both in one
-- statement or transaction (src/jobs/*-store.ts).

CREATE TABLE jobs (
  id               uuid PRIMARY KEY,          -- UUIDv7: time-ordered, so id order is creation order
  owner_service    text NOT NULL,
  owner_ref        text NOT NULL,
  task_type        text NOT NULL,
  model_profile    text NOT NULL,
  queue            text GENERATED ALWAYS AS (task_type || '/' || model_profile) STORED,
  status           text NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
  priority         integer NOT NULL DEFAULT 0,
  input            jsonb NOT NULL,
  result           jsonb,
  error            jsonb,                     -- {category, message}: the last error
  error_at         timestamptz,               -- when `error` was last recorded (drives error counters)
  attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  max_attempts     integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
  idempotency_key  text,
  request_hash     text,                      -- hash of the create request, to tell replays from conflicts
  worker_id        text,
  lease_token      uuid,
  lease_expires_at timestamptz,
  lease_seconds    integer,                   -- lease length asked for at claim; the heartbeat default
  run_after        timestamptz NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz,
  callback_url     text,
  callback_events  text[],
  CHECK (attempts <= max_attempts),
  CHECK ((status = 'running') = (lease_expires_at IS NOT NULL))
);

-- Idempotent creates: one key per owner service.
CREATE UNIQUE INDEX jobs_idempotency_key_idx ON jobs (owner_service, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
-- "Find the jobs of one owner_ref", newest first (owner_ref is near-unique, so the
-- owner_service filter, when given, is applied on the few rows found).
CREATE INDEX jobs_owner_ref_idx ON jobs (owner_ref, id DESC);
-- Claim: highest priority first, then oldest (id is time-ordered). The claim reads a
-- bounded range of this index per matching queue and merges them (src/jobs/claim-store.ts);
-- an index led by model_profile could not serve `model_profile = ANY($1)` in order, and
-- a sort over every pending row of a profile costs 20-80 ms at 100k pending.
CREATE INDEX jobs_claim_idx ON jobs (queue, priority DESC, id) WHERE status = 'pending';
-- Stats: delayed counts and the oldest ready job per queue.
CREATE INDEX jobs_pending_queue_idx ON jobs (queue, run_after) WHERE status = 'pending';
-- Reaper: leases that ran out.
CREATE INDEX jobs_lease_idx ON jobs (lease_expires_at) WHERE status = 'running';
-- Purge: finished jobs by age.
CREATE INDEX jobs_finished_idx ON jobs (status, finished_at)
  WHERE status IN ('completed', 'failed', 'cancelled');

-- One row per claim: who held the lease and how the attempt ended. It backs the
-- job timeline, idempotent replays of complete/fail, and the "no job completed by
-- two leases" invariant. Keyed by lease token, not attempt number: a retry with
-- reset_attempts starts the numbering again.
CREATE TABLE job_attempts (
  job_id           uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  attempt          integer NOT NULL,
  worker_id        text NOT NULL,
  lease_token      uuid NOT NULL,
  claimed_at       timestamptz NOT NULL DEFAULT now(),
  lease_expires_at timestamptz NOT NULL,
  finished_at      timestamptz,
  outcome          text CHECK (outcome IN ('completed', 'failed', 'retried', 'lease_expired', 'revoked', 'cancelled')),
  error            jsonb,
  PRIMARY KEY (job_id, lease_token)
);

-- The queues we have created in pg-boss, with their two halves for filtering.
CREATE TABLE job_queues (
  name          text PRIMARY KEY,
  task_type     text NOT NULL,
  model_profile text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- Raises inside a statement, so a data-modifying CTE that finds the two stores
-- out of step rolls back as a whole.
CREATE FUNCTION ai_assert(ok boolean, message text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  IF ok IS NOT TRUE THEN
    RAISE EXCEPTION 'consistency check failed: %', message USING ERRCODE = 'P0001';
  END IF;
  RETURN true;
END $$;
