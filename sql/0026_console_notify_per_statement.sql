-- 0026: the console's update notifications once per statement instead of once per row.
--
-- 0021 sent one NOTIFY per changed row: two per job (claim, finish), and every committing transaction that holds a
-- notification waits for PostgreSQL's one notification queue lock, so the daemon's busiest statements queued on it
-- (bench/throughput.ts with the trigger off ran 1.6-1.8x faster for ERP actions). Now an UPDATE that sets a column
-- deciding a job's state sends one '*' per statement ("something changed: refresh what you show"), which the
-- console gathers over a short window anyway (src/console/live.ts). `UPDATE OF` fires only for statements whose
-- SET list names one of these columns, so lease renewals send nothing; no transition table is built.
DROP TRIGGER IF EXISTS xtconnect_console_update ON xtbatch.batch;

CREATE OR REPLACE FUNCTION xtbatch.notify_console_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('xtconnect_console', '*');
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS xtconnect_console_changed ON xtbatch.batch;
CREATE TRIGGER xtconnect_console_changed
  AFTER UPDATE OF batch_started, batch_completed, batch_scheduled, batch_attempts, batch_exitstatus ON xtbatch.batch
  FOR EACH STATEMENT EXECUTE FUNCTION xtbatch.notify_console_changed();

DROP FUNCTION IF EXISTS xtbatch.notify_console_update();
