-- 0020: the web console: the administrator role, and indexes for its job list.
--
-- xtconnect_admin: members of this role (and superusers) see every job in the console and change settings,
-- schedules and exclusions; other users see and act on their own jobs (batch_user) only. A NOLOGIN group role:
--   GRANT xtconnect_admin TO alice;
-- Creating a role needs CREATEROLE; without it a NOTICE says so and the migration goes on (only superusers are
-- administrators then, until someone runs CREATE ROLE xtconnect_admin NOLOGIN).
DO $$
DECLARE
  can_create boolean;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xtconnect_admin') THEN
    SELECT rolsuper OR rolcreaterole INTO can_create FROM pg_roles WHERE rolname = current_user;
    IF coalesce(can_create, false) THEN
      CREATE ROLE xtconnect_admin NOLOGIN;
    ELSE
      RAISE NOTICE 'xtconnect_admin role not created: % lacks CREATEROLE; only superusers administer the console until an administrator runs CREATE ROLE xtconnect_admin NOLOGIN', current_user;
    END IF;
  END IF;
END
$$;

-- The job list is newest first (batch_id descending) with keyset pagination: without a filter it walks the
-- primary key backwards. A filter on a column that is rare among a million finished rows would walk far, so the
-- usual ones have an index that keeps the id order inside each value.
CREATE INDEX IF NOT EXISTS batch_user_id_idx ON xtbatch.batch (batch_user, batch_id);
CREATE INDEX IF NOT EXISTS batch_action_id_idx ON xtbatch.batch (batch_action, batch_id);
-- Failed and cancelled jobs are few among the done ones; "show me the failures" must not scan the done ones.
CREATE INDEX IF NOT EXISTS batch_failed_id_idx ON xtbatch.batch (batch_id)
  WHERE batch_completed IS NOT NULL AND coalesce(batch_exitstatus, '') <> '' AND batch_exitstatus NOT LIKE 'Cancelled by %';
CREATE INDEX IF NOT EXISTS batch_cancelled_id_idx ON xtbatch.batch (batch_id)
  WHERE batch_completed IS NOT NULL AND batch_exitstatus LIKE 'Cancelled by %';
-- Waiting and running jobs: the partial indexes of 0001 hold them (batch_due_idx, batch_running_idx), but not in
-- id order; these are small (only unfinished rows).
CREATE INDEX IF NOT EXISTS batch_waiting_id_idx ON xtbatch.batch (batch_id)
  WHERE batch_started IS NULL AND batch_completed IS NULL;
CREATE INDEX IF NOT EXISTS batch_running_id_idx ON xtbatch.batch (batch_id)
  WHERE batch_started IS NOT NULL AND batch_completed IS NULL;
-- A time range is on batch_scheduled.
CREATE INDEX IF NOT EXISTS batch_scheduled_id_idx ON xtbatch.batch (batch_scheduled, batch_id);

-- "Subject or recipient contains": a trigram index answers a rare text without reading every row. pg_trgm is a
-- trusted extension (any user who may create objects in the database may install it); where it cannot be
-- installed the search still works, walking the jobs newest first.
DO $$
DECLARE
  ext_schema text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
    BEGIN
      CREATE EXTENSION pg_trgm SCHEMA xtbatch;
    EXCEPTION WHEN OTHERS THEN
      RAISE NOTICE 'pg_trgm not installed (%): the console''s text search reads the jobs newest first', SQLERRM;
      RETURN;
    END;
  END IF;
  SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
  EXECUTE format('CREATE INDEX IF NOT EXISTS batch_subject_trgm_idx ON xtbatch.batch USING gin (batch_subject %I.gin_trgm_ops)', ext_schema);
  EXECUTE format('CREATE INDEX IF NOT EXISTS batch_email_trgm_idx ON xtbatch.batch USING gin (batch_email %I.gin_trgm_ops)', ext_schema);
  EXECUTE format('CREATE INDEX IF NOT EXISTS batch_cc_trgm_idx ON xtbatch.batch USING gin (batch_cc %I.gin_trgm_ops)', ext_schema);
END
$$;
