-- Our schema's version guard (src/db/schema-guard.ts), as migration 008 did for pg-boss's.
-- Most migrations only add, and an older build keeps working beside them through a rolling
-- deploy (and after a rollback). A migration an older build cannot run against (it drops or
-- renames something that build uses, as 015 dropped the indexes an older create names)
-- raises `oldest_build` to its own number. A build older than that refuses to start, and a
-- replica already running writes nothing more: every statement that writes both stores
-- calls ai_schema_serves(<the newest migration it carries>), which raises SQLSTATE AIV02;
-- the API answers 503 and the process exits 1 with the message, which names both numbers.
CREATE TABLE schema_compat (
  one          boolean PRIMARY KEY DEFAULT true CHECK (one),
  oldest_build integer NOT NULL
);
-- 015 broke the builds before it (they do not check; the number is the record).
INSERT INTO schema_compat (oldest_build) VALUES (15);

-- A one-row table read once per statement, like ai_pgboss_schema_is.
CREATE FUNCTION ai_schema_serves(build integer) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
DECLARE
  oldest integer;
  newest text;
BEGIN
  SELECT oldest_build INTO oldest FROM schema_compat;
  IF build < oldest THEN
    SELECT name INTO newest FROM schema_migrations ORDER BY version DESC LIMIT 1;
    RAISE EXCEPTION 'the database''s schema (at %) needs a build with migration % or newer, but this replica''s newest migration is %',
      newest, oldest, build USING ERRCODE = 'AIV02';
  END IF;
  RETURN true;
END $$;
