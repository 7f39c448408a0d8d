-- 0021: notifications for the web console's live updates (channel xtconnect_console, payload: batch IDs).
--
-- The daemon's own channel (xtconnect_jobs) only says "something is due now". The console needs to know which
-- job changed state, so that a running job turns done on the screen without a reload.
--
-- Inserts: one NOTIFY per statement, with the IDs (up to 100; '*' when more: the console then refreshes what it
-- shows). Updates: per row, and only when a column that decides the state or the schedule changed (the WHEN
-- clause is evaluated without calling the function, so lease renewals and other updates cost nothing); a claim
-- of 500 jobs sends 500 small notifications, which PostgreSQL queues in one transaction.
CREATE OR REPLACE FUNCTION xtbatch.notify_console_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_n integer;
  v_ids text;
BEGIN
  SELECT count(*), string_agg(batch_id::text, ',') INTO v_n, v_ids
    FROM (SELECT batch_id FROM new_rows LIMIT 101) s;
  IF v_n > 100 THEN
    PERFORM pg_notify('xtconnect_console', '*');
  ELSIF v_n > 0 THEN
    PERFORM pg_notify('xtconnect_console', v_ids);
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION xtbatch.notify_console_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('xtconnect_console', NEW.batch_id::text);
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS xtconnect_console_insert ON xtbatch.batch;
CREATE TRIGGER xtconnect_console_insert AFTER INSERT ON xtbatch.batch
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION xtbatch.notify_console_insert();

DROP TRIGGER IF EXISTS xtconnect_console_update ON xtbatch.batch;
CREATE TRIGGER xtconnect_console_update AFTER UPDATE ON xtbatch.batch
  FOR EACH ROW
  WHEN (OLD.batch_started IS DISTINCT FROM NEW.batch_started
     OR OLD.batch_completed IS DISTINCT FROM NEW.batch_completed
     OR OLD.batch_scheduled IS DISTINCT FROM NEW.batch_scheduled
     OR OLD.batch_attempts IS DISTINCT FROM NEW.batch_attempts
     OR OLD.batch_exitstatus IS DISTINCT FROM NEW.batch_exitstatus)
  EXECUTE FUNCTION xtbatch.notify_console_update();

-- Deleted jobs (purge) leave the list at the next refresh; no notification is needed for them.
