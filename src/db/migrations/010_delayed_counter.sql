-- Delayed jobs per queue as a counter (key `delayed`, bucket -infinity), like the
-- status counters of migration 002: /stats and pg-boss's queue counts read it
-- instead of counting pending rows with a future run_after. That count read every
-- delayed job's index entry, 108 ms per read with 500,000 delayed jobs at 10 M
-- (scripts/bench/README.md, scale scenario).
--
-- It counts the rows the claim leaves out (`status = 'pending' AND delayed`): a job
-- whose run_after has passed counts as delayed until the leader promotes it (within
-- a second, src/jobs/delayed.ts), exactly as long as no claim can take it.
-- One function for the three triggers: each statement reads only the transition
-- tables its operation has.
CREATE FUNCTION jobs_count_delayed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO job_stat_deltas (queue, key, bucket, n)
    SELECT queue, 'delayed', '-infinity', count(*) FROM new_rows
    WHERE status = 'pending' AND delayed GROUP BY 1;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO job_stat_deltas (queue, key, bucket, n)
    SELECT queue, 'delayed', '-infinity', sum(n) FROM (
      SELECT o.queue, -1 AS n FROM old_rows o JOIN new_rows n USING (id)
        WHERE o.status = 'pending' AND o.delayed AND NOT (n.status = 'pending' AND n.delayed)
      UNION ALL
      SELECT n.queue, 1 FROM old_rows o JOIN new_rows n USING (id)
        WHERE n.status = 'pending' AND n.delayed AND NOT (o.status = 'pending' AND o.delayed)
    ) d
    GROUP BY 1 HAVING sum(n) <> 0;
  ELSE
    INSERT INTO job_stat_deltas (queue, key, bucket, n)
    SELECT queue, 'delayed', '-infinity', -count(*) FROM old_rows
    WHERE status = 'pending' AND delayed GROUP BY 1;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER jobs_count_delayed_insert AFTER INSERT ON jobs
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_delayed();
CREATE TRIGGER jobs_count_delayed_update AFTER UPDATE ON jobs
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_delayed();
CREATE TRIGGER jobs_count_delayed_delete AFTER DELETE ON jobs
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_delayed();

-- The jobs delayed so far. CREATE TRIGGER locked out writers of jobs until this
-- migration commits, so no write is counted twice or missed.
INSERT INTO job_stat_deltas (queue, key, bucket, n)
SELECT queue, 'delayed', '-infinity', count(*) FROM jobs WHERE status = 'pending' AND delayed GROUP BY 1;
