-- Fix for 002: the DELETE trigger's two UNION ALL branches gave '-infinity' as
-- untyped literals, which resolve to text, so every DELETE on jobs (the retention
-- purge) failed with "column bucket is of type timestamp with time zone but
-- expression is of type text". Same function, with the literal typed.
CREATE OR REPLACE FUNCTION jobs_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO job_stat_deltas (queue, key, bucket, n)
  SELECT queue, 'status:' || status, '-infinity'::timestamptz, -count(*) FROM old_rows GROUP BY 1, 2
  UNION ALL
  SELECT queue, 'purged', '-infinity'::timestamptz, count(*) FROM old_rows GROUP BY 1;
  RETURN NULL;
END $$;
