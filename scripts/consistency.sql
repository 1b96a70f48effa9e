-- The job store's invariants: our `jobs` table, pg-boss's rows for our queues
-- (pgboss.job) and the attempt log (job_attempts) agree. Every row returned is one
-- violation; no rows means consistent.
--
-- Safe on a live database: it only reads, and as one statement it sees one snapshot;
-- since every state change writes both stores in one transaction, a consistent
-- database never shows a transient violation. A full check reads every job once
-- (hash joins), so expect seconds at millions of jobs.
--
--   psql "$DATABASE_URL" -f scripts/consistency.sql      (or: npm run check:consistency)
--
-- violation                 meaning
-- missing_in_pgboss         a jobs row without its pgboss.job row (same id, queue <task_type>/<model_profile>)
-- state_mismatch            the two rows disagree: pending <-> created/retry with start_after = run_after,
--                           running <-> active with retry_count = attempts - 1, completed/failed/cancelled alike
-- orphan_in_pgboss          a pgboss.job row in one of our queues without a jobs row
-- attempts_exceeded         attempts > max_attempts
-- pending_without_attempts  a pending job whose next claim would exceed max_attempts
-- completed_twice           more than one attempt of a job ended `completed` (two leases completed it)
-- completed_without_lease   a completed job whose completing attempt is not its current lease
-- running_without_lease     a running job without a worker, token, expiry, or open attempt for its token
-- lease_overdue             a running job whose lease ended over a minute ago (the reaper is not running)
-- stray_open_attempt        an attempt still open although its lease is no longer the job's current one
-- orphan_row                a job_attempts, job_events, job_progress, job_keys or webhook_deliveries row whose
--                           job is gone (they have no foreign keys: migration 011)
-- job_keys_mismatch         a job whose job_keys row (migration 015) is missing or holds other keys
WITH pair AS (
  SELECT j.id, j.queue, j.status, j.attempts, j.max_attempts, j.run_after,
         p.id AS boss_id, p.state::text AS boss_state, p.retry_count, p.start_after
  FROM jobs j
  LEFT JOIN pgboss.job p ON p.name = j.queue AND p.id = j.id
)
SELECT 'missing_in_pgboss' AS violation, id AS job_id, queue,
       format('jobs.status=%s but no pgboss.job row', status) AS detail
FROM pair WHERE boss_id IS NULL
UNION ALL
SELECT 'state_mismatch', id, queue,
       format('jobs: status=%s attempts=%s run_after=%s; pgboss: state=%s retry_count=%s start_after=%s',
              status, attempts, run_after, boss_state, retry_count, start_after)
FROM pair
WHERE boss_id IS NOT NULL AND NOT (
     (status = 'pending' AND boss_state IN ('created', 'retry') AND start_after = run_after)
  OR (status = 'running' AND boss_state = 'active' AND retry_count = attempts - 1)
  OR (status IN ('completed', 'failed', 'cancelled') AND boss_state = status))
UNION ALL
SELECT 'orphan_in_pgboss', p.id, p.name, format('pgboss.job state=%s has no jobs row', p.state)
FROM pgboss.job p
WHERE p.name IN (SELECT name FROM job_queues)
  AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = p.id AND j.queue = p.name)
UNION ALL
SELECT 'attempts_exceeded', id, queue, format('attempts=%s > max_attempts=%s', attempts, max_attempts)
FROM jobs WHERE attempts > max_attempts
UNION ALL
SELECT 'pending_without_attempts', id, queue, format('pending with attempts=%s, max_attempts=%s', attempts, max_attempts)
FROM jobs WHERE status = 'pending' AND attempts >= max_attempts
UNION ALL
SELECT 'completed_twice', a.job_id, j.queue, format('%s attempts ended completed', count(*))
FROM job_attempts a JOIN jobs j ON j.id = a.job_id
WHERE a.outcome = 'completed'
GROUP BY a.job_id, j.queue HAVING count(*) > 1
UNION ALL
SELECT 'completed_without_lease', j.id, j.queue, 'no completed attempt holds the job''s lease token'
FROM jobs j
WHERE j.status = 'completed' AND NOT EXISTS (
  SELECT 1 FROM job_attempts a WHERE a.job_id = j.id AND a.lease_token = j.lease_token AND a.outcome = 'completed')
UNION ALL
SELECT 'running_without_lease', j.id, j.queue,
       format('worker_id=%s lease_token=%s lease_expires_at=%s', j.worker_id, j.lease_token, j.lease_expires_at)
FROM jobs j
WHERE j.status = 'running' AND (
  j.worker_id IS NULL OR j.lease_token IS NULL OR j.lease_expires_at IS NULL OR NOT EXISTS (
    SELECT 1 FROM job_attempts a WHERE a.job_id = j.id AND a.lease_token = j.lease_token AND a.outcome IS NULL))
UNION ALL
SELECT 'lease_overdue', id, queue, format('lease ended at %s', lease_expires_at)
FROM jobs WHERE status = 'running' AND lease_expires_at < now() - interval '1 minute'
UNION ALL
SELECT 'stray_open_attempt', a.job_id, j.queue, format('attempt %s (worker %s) is open; job status=%s', a.attempt, a.worker_id, j.status)
FROM job_attempts a JOIN jobs j ON j.id = a.job_id
WHERE a.outcome IS NULL AND NOT (j.status = 'running' AND j.lease_token = a.lease_token)
UNION ALL
SELECT 'orphan_row', o.job_id, NULL, format('%s row without its job', o.tbl)
FROM (SELECT DISTINCT 'job_attempts' AS tbl, job_id FROM job_attempts
      UNION ALL SELECT DISTINCT 'job_events', job_id FROM job_events
      UNION ALL SELECT 'job_progress', job_id FROM job_progress
      UNION ALL SELECT 'job_keys', job_id FROM job_keys
      UNION ALL SELECT DISTINCT 'webhook_deliveries', job_id FROM webhook_deliveries) o
WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = o.job_id)
UNION ALL
SELECT 'job_keys_mismatch', j.id, j.queue,
       format('jobs: owner_service=%s owner_ref=%s idempotency_key=%s; job_keys: %s', j.owner_service, j.owner_ref,
              j.idempotency_key, CASE WHEN k.job_id IS NULL THEN 'no row'
                                      ELSE format('owner_service=%s owner_ref=%s idempotency_key=%s',
                                                  k.owner_service, k.owner_ref, k.idempotency_key) END)
FROM jobs j LEFT JOIN job_keys k ON k.job_id = j.id
WHERE (k.owner_service, k.owner_ref, k.idempotency_key) IS DISTINCT FROM (j.owner_service, j.owner_ref, j.idempotency_key);
