-- 0037: a job inserted with batch_scheduled NULL runs now, as one that leaves the column out does.
--
-- The column's default is localtimestamp, but an INSERT that names it with NULL (a script, an integration) stored
-- NULL: the claim's "batch_scheduled <= localtimestamp" is never true for it, so the job showed as scheduled and
-- never ran, and `xtconnect list` broke on it (found by an outside audit). The insert trigger, which already reads
-- the statement's new rows to decide on its NOTIFY, now gives such rows the time of their insert, so they are
-- due at once and announced like any other. Only at insert: the ERP's screens never write NULL there.
--
-- Idempotent: CREATE OR REPLACE, same trigger.

CREATE OR REPLACE FUNCTION xtbatch.notify_due() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows WHERE batch_scheduled IS NULL AND batch_started IS NULL AND batch_completed IS NULL) THEN
    UPDATE xtbatch.batch b
       SET batch_scheduled = localtimestamp
      FROM new_rows n
     WHERE b.batch_id = n.batch_id AND n.batch_scheduled IS NULL
       AND b.batch_scheduled IS NULL AND b.batch_started IS NULL AND b.batch_completed IS NULL;
    PERFORM pg_notify('xtconnect_jobs', '');
  ELSIF EXISTS (SELECT 1 FROM new_rows
                WHERE batch_started IS NULL AND batch_completed IS NULL AND batch_scheduled <= localtimestamp) THEN
    PERFORM pg_notify('xtconnect_jobs', '');
  END IF;
  RETURN NULL;
END
$$;
