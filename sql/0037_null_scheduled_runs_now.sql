-- 0037: a job inserted with batch_scheduled NULL runs now, as one that leaves the column out does.
--
-- The column's default is localtimestamp, but an INSERT that names it with NULL (a script, an integration) stored
-- NULL: the claim's "batch_scheduled <= localtimestamp" is never true for it, so the job showed as scheduled and
-- never ran, and `xtconnect list` broke on it (found by an outside audit). A BEFORE INSERT trigger gives such a row
-- the time of its insert. Its WHEN clause is tested by the server without calling the function, so inserts that
-- set the time pay next to nothing; the row is stored due, and the insert's NOTIFY (sql/0002) announces it as any
-- other. It needs no UPDATE privilege of the inserting role, and writes no second row version. Only at insert:
-- the ERP's screens never write NULL there.
--
-- Idempotent: CREATE OR REPLACE, and the trigger dropped first.

CREATE OR REPLACE FUNCTION xtbatch.xtconnect_scheduled_now() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.batch_scheduled := localtimestamp;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS xtconnect_scheduled_null ON xtbatch.batch;
CREATE TRIGGER xtconnect_scheduled_null BEFORE INSERT ON xtbatch.batch
  FOR EACH ROW WHEN (NEW.batch_scheduled IS NULL) EXECUTE FUNCTION xtbatch.xtconnect_scheduled_now();
