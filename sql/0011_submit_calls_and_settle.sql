-- 0011: xTuple's submit functions as xTuple's callers call them, and the settle time for parameters that arrive
-- after their job.
--
-- Callers (../shared/xtuple-client-calls.md §8) pass the time as CURRENT_TIMESTAMP, now() or a bound Qt datetime:
-- timestamptz, which has no implicit cast to timestamp, so 0002's "timestamp" signatures did not resolve
-- (hasAlarms() raised "function xtbatch.submitemailtobatch(text, text, unknown, ...) does not exist"). Each form
-- now takes timestamptz; a timestamp argument still resolves (timestamp -> timestamptz is implicit). There is
-- exactly ONE function per name and argument count, so untyped NULLs and '' never make a call ambiguous.
-- The time is stored in batch_scheduled (timestamp without time zone) as the caller's local time, as xTuple does.
--
-- Settle time. The desktop client's "Schedule Report" and "Schedule Action" screens call submit*ToBatch in one
-- autocommitted statement and then insert the job's parameters one autocommitted INSERT INTO batchparam at a
-- time. A daemon woken by the job's NOTIFY could start the job before its parameters exist (a blank invoice was
-- mailed). So:
--   * submitReportToBatch and submitActionToBatch set batch_settle_until = clock + settle seconds;
--   * every batchparam insert for a waiting job from another transaction than the one that submitted it moves
--     batch_settle_until to clock + settle seconds (the next parameter may follow);
--   * a batchparam insert in the transaction that submitted the job clears it: the parameters become visible
--     together with the job, so a job inserted with its parameters in one transaction does not wait at all;
--   * the daemon claims no job whose batch_settle_until is in the future.
-- Settle seconds: the setting BatchParamSettleSeconds (public.metric on xTuple), default 2; 0 turns it off.
-- submitEmailToBatch sets none: its callers (hasAlarms(), workflow, EDI) add no parameters.

ALTER TABLE xtbatch.batch ADD COLUMN IF NOT EXISTS batch_settle_until timestamptz;
COMMENT ON COLUMN xtbatch.batch.batch_settle_until IS
  'xtconnect: the job is not started before this time; its submitter may still be adding batchparam rows';

CREATE OR REPLACE FUNCTION xtbatch.settle_seconds() RETURNS numeric
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v text := xtbatch.getsetting('BatchParamSettleSeconds');
BEGIN
  IF v IS NULL OR trim(v) !~ '^[0-9]+([.][0-9]+)?$' THEN
    RETURN 2;
  END IF;
  RETURN least(trim(v)::numeric, 3600);
END
$$;

CREATE OR REPLACE FUNCTION xtbatch.settle_until() RETURNS timestamptz
LANGUAGE sql VOLATILE AS $$
  SELECT CASE WHEN s > 0 THEN clock_timestamp() + make_interval(secs => s::double precision) END
    FROM xtbatch.settle_seconds() AS s
$$;

-- Row trigger on batchparam. The batch row's xmin is the transaction that last wrote it; the row was submitted in
-- this very transaction when that is the current one and batch_submitted is this transaction's start (set by the
-- submit functions and by direct inserts that use CURRENT_TIMESTAMP). A subtransaction (savepoint, EXCEPTION block)
-- has an xmin of its own: such a job waits the settle time, the safe side.
CREATE OR REPLACE FUNCTION xtbatch.batchparam_settle() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_xmin text;
  v_submitted timestamp;
  v_settle timestamptz;
BEGIN
  SELECT b.xmin::text, b.batch_submitted, b.batch_settle_until INTO v_xmin, v_submitted, v_settle
    FROM xtbatch.batch b
   WHERE b.batch_id = NEW.batchparam_batch_id AND b.batch_started IS NULL AND b.batch_completed IS NULL;
  IF NOT FOUND THEN
    RETURN NULL; -- running or finished: too late to hold it
  END IF;
  IF v_xmin = (txid_current() % 4294967296)::text AND v_submitted = localtimestamp THEN
    IF v_settle IS NOT NULL THEN
      UPDATE xtbatch.batch SET batch_settle_until = NULL WHERE batch_id = NEW.batchparam_batch_id;
    END IF;
  ELSE
    UPDATE xtbatch.batch SET batch_settle_until = xtbatch.settle_until() WHERE batch_id = NEW.batchparam_batch_id;
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS xtconnect_batchparam_settle ON xtbatch.batchparam;
CREATE TRIGGER xtconnect_batchparam_settle AFTER INSERT ON xtbatch.batchparam
  FOR EACH ROW EXECUTE FUNCTION xtbatch.batchparam_settle();

-- The functions: every earlier overload goes first (0002's timestamp forms, the commercial package's), so that
-- exactly one candidate per argument count remains.
DO $$
DECLARE
  f record;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure AS sig
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'xtbatch'
       AND p.proname IN ('submitemailtobatch', 'submitreporttobatch', 'submitactiontobatch',
                         'cancelbatchitem', 'reschedulebatchitem')
  LOOP
    EXECUTE 'DROP FUNCTION ' || f.sig;
  END LOOP;
END
$$;

-- Email --------------------------------------------------------------------------------------------------------
-- 10 arguments: hasAlarms() passes (from, to, '', subject, body, NULL, CURRENT_TIMESTAMP, FALSE, NULL, NULL);
-- plv8 callers read the result column "submitemailtobatch" (a scalar return, no OUT parameter name).
CREATE FUNCTION xtbatch.submitEmailToBatch(
  p_from text, p_to text, p_cc text, p_subject text, p_body text, p_filename text,
  p_scheduled timestamptz, p_emailhtml boolean, p_replyto text, p_bcc text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_id integer;
BEGIN
  PERFORM xtbatch.assert_enabled();
  INSERT INTO xtbatch.batch (batch_action, batch_user, batch_submitted, batch_scheduled,
                             batch_fromemail, batch_email, batch_cc, batch_subject, batch_responsebody,
                             batch_filename, batch_emailhtml, batch_replyto, batch_bcc)
  VALUES ('Email', CURRENT_USER, localtimestamp, coalesce(p_scheduled::timestamp, localtimestamp),
          p_from, p_to, p_cc, p_subject, p_body, p_filename, coalesce(p_emailhtml, false), p_replyto, p_bcc)
  RETURNING batch_id INTO v_id;
  RETURN v_id;
END
$$;

-- 8 arguments (old deliverEmail, purchase-approval extensions): no reply-to, no bcc.
CREATE FUNCTION xtbatch.submitEmailToBatch(
  p_from text, p_to text, p_cc text, p_subject text, p_body text, p_filename text,
  p_scheduled timestamptz, p_emailhtml boolean) RETURNS integer
LANGUAGE sql AS $$
  SELECT xtbatch.submitEmailToBatch(p_from, p_to, p_cc, p_subject, p_body, p_filename, p_scheduled, p_emailhtml,
                                    NULL::text, NULL::text)
$$;

-- Reports -------------------------------------------------------------------------------------------------------
-- The one that inserts; the others name their arguments' meaning and call it. An empty subject becomes the report
-- name and an empty file name "<report>.pdf", as xTuple's batch manager did.
CREATE FUNCTION xtbatch.submitReportToBatch(
  p_report text, p_from text, p_to text, p_cc text, p_subject text, p_body text, p_filename text,
  p_scheduled timestamptz, p_emailhtml boolean) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_id integer;
BEGIN
  PERFORM xtbatch.assert_enabled();
  IF coalesce(trim(p_report), '') = '' THEN
    RAISE EXCEPTION 'submitReportToBatch: the report name (first argument) is empty';
  END IF;
  INSERT INTO xtbatch.batch (batch_action, batch_parameter, batch_user, batch_submitted, batch_scheduled,
                             batch_fromemail, batch_email, batch_cc, batch_subject, batch_responsebody,
                             batch_filename, batch_emailhtml, batch_settle_until)
  VALUES ('RunReport', p_report, CURRENT_USER, localtimestamp, coalesce(p_scheduled::timestamp, localtimestamp),
          p_from, p_to, p_cc, coalesce(nullif(p_subject, ''), p_report), p_body,
          coalesce(nullif(p_filename, ''), p_report || '.pdf'), coalesce(p_emailhtml, false),
          xtbatch.settle_until())
  RETURNING batch_id INTO v_id;
  RETURN v_id;
END
$$;

-- 8 arguments: (report, from, to, cc, subject, body, filename, scheduled).
CREATE FUNCTION xtbatch.submitReportToBatch(
  p_report text, p_from text, p_to text, p_cc text, p_subject text, p_body text, p_filename text,
  p_scheduled timestamptz) RETURNS integer
LANGUAGE sql AS $$
  SELECT xtbatch.submitReportToBatch(p_report, p_from, p_to, p_cc, p_subject, p_body, p_filename, p_scheduled, false)
$$;

-- 7 arguments: (report, from, to, subject, body, filename, scheduled), no cc. The desktop client's "Schedule
-- Report" screen calls submitReportToBatch(report, from, to, '', body, '', CURRENT_TIMESTAMP | :scheduled).
CREATE FUNCTION xtbatch.submitReportToBatch(
  p_report text, p_from text, p_to text, p_subject text, p_body text, p_filename text,
  p_scheduled timestamptz) RETURNS integer
LANGUAGE sql AS $$
  SELECT xtbatch.submitReportToBatch(p_report, p_from, p_to, NULL::text, p_subject, p_body, p_filename, p_scheduled, false)
$$;

-- 6 arguments, the OpenMFG-era form: (report, to, subject, body, filename, scheduled), no from.
CREATE FUNCTION xtbatch.submitReportToBatch(
  p_report text, p_to text, p_subject text, p_body text, p_filename text, p_scheduled timestamptz) RETURNS integer
LANGUAGE sql AS $$
  SELECT xtbatch.submitReportToBatch(p_report, NULL::text, p_to, NULL::text, p_subject, p_body, p_filename, p_scheduled, false)
$$;

-- Actions -------------------------------------------------------------------------------------------------------
CREATE FUNCTION xtbatch.submitActionToBatch(p_action text, p_email text, p_scheduled timestamptz)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_id integer;
BEGIN
  PERFORM xtbatch.assert_enabled();
  IF coalesce(trim(p_action), '') = '' THEN
    RAISE EXCEPTION 'submitActionToBatch: the action name (first argument) is empty';
  END IF;
  INSERT INTO xtbatch.batch (batch_action, batch_user, batch_submitted, batch_scheduled, batch_email, batch_settle_until)
  VALUES (p_action, CURRENT_USER, localtimestamp, coalesce(p_scheduled::timestamp, localtimestamp), p_email,
          xtbatch.settle_until())
  RETURNING batch_id INTO v_id;
  RETURN v_id;
END
$$;

-- Cancel and reschedule -----------------------------------------------------------------------------------------
-- Cancelling keeps the row (with who and when) instead of deleting it, so the history stays readable. A running
-- job is cancelled too: its daemon sees the finished row at the next heartbeat and aborts the work.
-- Returns 1 when cancelled, 0 when the job had already finished, -1 when there is no such job.
CREATE FUNCTION xtbatch.cancelBatchItem(p_batch_id integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_row xtbatch.batch;
BEGIN
  SELECT * INTO v_row FROM xtbatch.batch WHERE batch_id = p_batch_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN -1;
  END IF;
  IF v_row.batch_completed IS NOT NULL THEN
    RETURN 0;
  END IF;
  UPDATE xtbatch.batch
     SET batch_completed = localtimestamp,
         batch_started = coalesce(batch_started, localtimestamp),
         batch_exitstatus = format('Cancelled by %s at %s', CURRENT_USER, to_char(localtimestamp, 'YYYY-MM-DD HH24:MI:SS')),
         batch_lease_expires = NULL
   WHERE batch_id = p_batch_id;
  RETURN 1;
END
$$;

-- xTuple's Retry/Reschedule: the job waits again from p_scheduled, with a fresh attempt count. The console's Retry
-- passes the row's own batch_scheduled (timestamp): it resolves here through the implicit cast, in the same
-- session time zone both ways, so the time is unchanged. Its parameters exist already: no settle time.
-- Returns 1 when rescheduled, -1 when there is no such job; a job that is running right now is refused.
CREATE FUNCTION xtbatch.rescheduleBatchItem(p_batch_id integer, p_scheduled timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_row xtbatch.batch;
  v_when timestamp := coalesce(p_scheduled::timestamp, localtimestamp);
BEGIN
  SELECT * INTO v_row FROM xtbatch.batch WHERE batch_id = p_batch_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN -1;
  END IF;
  IF v_row.batch_started IS NOT NULL AND v_row.batch_completed IS NULL AND v_row.batch_lease_expires > now() THEN
    RAISE EXCEPTION 'job % is running on %; wait for it to finish or cancel it first', p_batch_id, v_row.batch_locked_by;
  END IF;
  UPDATE xtbatch.batch
     SET batch_scheduled = v_when,
         batch_started = NULL, batch_completed = NULL, batch_exitstatus = NULL,
         batch_attempts = 0, batch_locked_by = NULL, batch_lease_expires = NULL, batch_last_error = NULL,
         batch_result = NULL, batch_settle_until = NULL
   WHERE batch_id = p_batch_id;
  IF v_when <= localtimestamp THEN
    PERFORM pg_notify('xtconnect_jobs', '');
  END IF;
  RETURN 1;
END
$$;

-- The job view gains the new column (its column list is fixed when it is made).
DROP VIEW IF EXISTS xtbatch.job;
CREATE VIEW xtbatch.job AS
SELECT b.*,
       CASE
         WHEN b.batch_completed IS NOT NULL THEN
           CASE WHEN coalesce(b.batch_exitstatus, '') = '' THEN 'done'
                WHEN b.batch_exitstatus LIKE 'Cancelled by %' THEN 'cancelled'
                ELSE 'failed' END
         WHEN b.batch_started IS NOT NULL THEN 'running'
         WHEN b.batch_attempts > 0 THEN 'retrying'
         ELSE 'scheduled'
       END AS state
  FROM xtbatch.batch b;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xtrole') THEN
    GRANT SELECT, INSERT, UPDATE, DELETE ON xtbatch.job TO xtrole;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xtconnect') THEN
    GRANT SELECT ON xtbatch.job TO xtconnect;
    GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA xtbatch TO xtconnect;
  END IF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'could not grant EXECUTE on the xtbatch functions to xtconnect: %', SQLERRM;
END
$$;
