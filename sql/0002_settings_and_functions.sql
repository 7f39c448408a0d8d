-- 0002: settings, xTuple's submit/cancel/reschedule functions, and the NOTIFY triggers.
-- Idempotent: functions are replaced, triggers dropped and recreated.

-- Settings ------------------------------------------------------------------------------------------------

-- Reads a setting from xTuple's public.metric on an xTuple database, else from xtbatch.metric.
CREATE OR REPLACE FUNCTION xtbatch.getsetting(p_name text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v text;
BEGIN
  IF (SELECT is_xtuple FROM xtbatch.xtconnect_install) THEN
    EXECUTE 'SELECT metric_value FROM public.metric WHERE metric_name = $1' INTO v USING p_name;
  ELSE
    SELECT metric_value INTO v FROM xtbatch.metric WHERE metric_name = p_name;
  END IF;
  RETURN v;
END
$$;

CREATE OR REPLACE FUNCTION xtbatch.setsetting(p_name text, p_value text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT is_xtuple FROM xtbatch.xtconnect_install) THEN
    -- xTuple's own setMetric keeps its metric history and caches consistent.
    PERFORM public.setmetric(p_name, p_value);
  ELSE
    INSERT INTO xtbatch.metric (metric_name, metric_value) VALUES (p_name, p_value)
    ON CONFLICT (metric_name) DO UPDATE SET metric_value = EXCLUDED.metric_value;
  END IF;
END
$$;

-- xTuple's fetchMetricBool treats a missing metric as false; so do we, on both kinds of database.
CREATE OR REPLACE FUNCTION xtbatch.enabled() RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT coalesce(lower(xtbatch.getsetting('EnableBatchManager')) IN ('t', 'true', '1', 'yes', 'on'), false)
$$;

-- A plain database starts enabled, with the seed's defaults, so a fresh install works at once. On xTuple the
-- administrator's own settings win and nothing is written.
DO $$
BEGIN
  IF NOT (SELECT is_xtuple FROM xtbatch.xtconnect_install) THEN
    INSERT INTO xtbatch.metric (metric_name, metric_value) VALUES
      ('EnableBatchManager', 't'),
      ('DefaultBatchFromEmailAddress', ''),
      ('BatchManagerPurgeDays', '30'),
      ('EmailSyncCreateContacts', 'f')
    ON CONFLICT (metric_name) DO NOTHING;
  END IF;
END
$$;

-- Daemons LISTEN on xtconnect_settings so a changed setting is seen at once (a slow re-read is the fallback).
CREATE OR REPLACE FUNCTION xtbatch.notify_settings() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('xtconnect_settings', '');
  RETURN NULL;
END
$$;

DO $$
BEGIN
  IF (SELECT is_xtuple FROM xtbatch.xtconnect_install) THEN
    DROP TRIGGER IF EXISTS xtconnect_settings_changed ON public.metric;
    CREATE TRIGGER xtconnect_settings_changed AFTER INSERT OR UPDATE OR DELETE ON public.metric
      FOR EACH STATEMENT EXECUTE FUNCTION xtbatch.notify_settings();
  END IF;
END
$$;
DROP TRIGGER IF EXISTS xtconnect_settings_changed ON xtbatch.metric;
CREATE TRIGGER xtconnect_settings_changed AFTER INSERT OR UPDATE OR DELETE ON xtbatch.metric
  FOR EACH STATEMENT EXECUTE FUNCTION xtbatch.notify_settings();
DROP TRIGGER IF EXISTS xtconnect_settings_changed ON xtbatch.contact_exclusion;
CREATE TRIGGER xtconnect_settings_changed AFTER INSERT OR UPDATE OR DELETE ON xtbatch.contact_exclusion
  FOR EACH STATEMENT EXECUTE FUNCTION xtbatch.notify_settings();

-- Job notifications --------------------------------------------------------------------------------------

-- One NOTIFY per statement, and only when the statement made a job due now: a bulk insert of 10,000 rows
-- sends one notification. It is a hint; polling stays. Inserts only: an UPDATE trigger would build a transition
-- table for every claim and every batch of outcomes (the daemon's hottest statements) to find, nearly always,
-- nothing. The updates that make a job due now notify themselves: rescheduleBatchItem, the rescuer, and the
-- daemon putting jobs back; an ERP screen that updates rows directly is seen at the next poll.
CREATE OR REPLACE FUNCTION xtbatch.notify_due() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows
             WHERE batch_started IS NULL AND batch_completed IS NULL AND batch_scheduled <= localtimestamp) THEN
    PERFORM pg_notify('xtconnect_jobs', '');
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS xtconnect_due_insert ON xtbatch.batch;
CREATE TRIGGER xtconnect_due_insert AFTER INSERT ON xtbatch.batch
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION xtbatch.notify_due();
DROP TRIGGER IF EXISTS xtconnect_due_update ON xtbatch.batch;

-- xTuple's functions ----------------------------------------------------------------------------------------
-- Signatures as ERP code calls them. Any earlier definitions (the commercial package's) are dropped first so
-- that a changed parameter name cannot stop the migration and no overload is left to make a call ambiguous.
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

-- The seed: "If the option is not selected, then you will not be able to submit jobs".
CREATE OR REPLACE FUNCTION xtbatch.assert_enabled() RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF NOT xtbatch.enabled() THEN
    RAISE EXCEPTION 'xTuple Connect is not enabled, so no job can be submitted'
      USING HINT = 'Turn on EnableBatchManager (System > Setup > xTuple Connect, or: xtconnect config set EnableBatchManager true).',
            ERRCODE = 'P0001';
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION xtbatch.submitEmailToBatch(
  p_from text, p_to text, p_cc text, p_subject text, p_body text, p_filename text,
  p_scheduled timestamp, p_emailhtml boolean, p_replyto text, p_bcc text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_id integer;
BEGIN
  PERFORM xtbatch.assert_enabled();
  INSERT INTO xtbatch.batch (batch_action, batch_user, batch_submitted, batch_scheduled,
                             batch_fromemail, batch_email, batch_cc, batch_subject, batch_responsebody,
                             batch_filename, batch_emailhtml, batch_replyto, batch_bcc)
  VALUES ('Email', CURRENT_USER, localtimestamp, coalesce(p_scheduled, localtimestamp),
          p_from, p_to, p_cc, p_subject, p_body, p_filename, coalesce(p_emailhtml, false), p_replyto, p_bcc)
  RETURNING batch_id INTO v_id;
  RETURN v_id;
END
$$;

CREATE OR REPLACE FUNCTION xtbatch.submitEmailToBatch(
  p_from text, p_to text, p_cc text, p_subject text, p_body text, p_filename text,
  p_scheduled timestamp, p_emailhtml boolean) RETURNS integer
LANGUAGE sql AS $$
  SELECT xtbatch.submitEmailToBatch(p_from, p_to, p_cc, p_subject, p_body, p_filename, p_scheduled, p_emailhtml,
                                    NULL::text, NULL::text)
$$;

CREATE OR REPLACE FUNCTION xtbatch.submitReportToBatch(
  p_report text, p_from text, p_to text, p_cc text, p_subject text, p_body text, p_filename text,
  p_scheduled timestamp, p_emailhtml boolean) RETURNS integer
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
                             batch_filename, batch_emailhtml)
  VALUES ('RunReport', p_report, CURRENT_USER, localtimestamp, coalesce(p_scheduled, localtimestamp),
          p_from, p_to, p_cc, coalesce(nullif(p_subject, ''), p_report), p_body,
          coalesce(nullif(p_filename, ''), p_report || '.pdf'), coalesce(p_emailhtml, false))
  RETURNING batch_id INTO v_id;
  RETURN v_id;
END
$$;

CREATE OR REPLACE FUNCTION xtbatch.submitReportToBatch(
  p_report text, p_from text, p_to text, p_cc text, p_subject text, p_body text, p_filename text,
  p_scheduled timestamp) RETURNS integer
LANGUAGE sql AS $$
  SELECT xtbatch.submitReportToBatch(p_report, p_from, p_to, p_cc, p_subject, p_body, p_filename, p_scheduled, false)
$$;

CREATE OR REPLACE FUNCTION xtbatch.submitReportToBatch(
  p_report text, p_from text, p_to text, p_cc text, p_subject text, p_body text, p_filename text) RETURNS integer
LANGUAGE sql AS $$
  SELECT xtbatch.submitReportToBatch(p_report, p_from, p_to, p_cc, p_subject, p_body, p_filename,
                                     NULL::timestamp, false)
$$;

CREATE OR REPLACE FUNCTION xtbatch.submitReportToBatch(
  p_report text, p_from text, p_to text, p_cc text, p_subject text, p_body text) RETURNS integer
LANGUAGE sql AS $$
  SELECT xtbatch.submitReportToBatch(p_report, p_from, p_to, p_cc, p_subject, p_body, NULL::text,
                                     NULL::timestamp, false)
$$;

CREATE OR REPLACE FUNCTION xtbatch.submitActionToBatch(p_action text, p_email text, p_scheduled timestamp)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_id integer;
BEGIN
  PERFORM xtbatch.assert_enabled();
  IF coalesce(trim(p_action), '') = '' THEN
    RAISE EXCEPTION 'submitActionToBatch: the action name (first argument) is empty';
  END IF;
  INSERT INTO xtbatch.batch (batch_action, batch_user, batch_submitted, batch_scheduled, batch_email)
  VALUES (p_action, CURRENT_USER, localtimestamp, coalesce(p_scheduled, localtimestamp), p_email)
  RETURNING batch_id INTO v_id;
  RETURN v_id;
END
$$;

-- Cancelling keeps the row (with who and when) instead of deleting it, so the history stays readable. A running
-- job is cancelled too: its daemon sees the finished row at the next heartbeat and aborts the work.
-- Returns 1 when cancelled, 0 when the job had already finished, -1 when there is no such job.
CREATE OR REPLACE FUNCTION xtbatch.cancelBatchItem(p_batch_id integer) RETURNS integer
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

-- xTuple's Retry/Reschedule: the job waits again from p_scheduled, with a fresh attempt count.
-- Returns 1 when rescheduled, -1 when there is no such job; a job that is running right now is refused.
CREATE OR REPLACE FUNCTION xtbatch.rescheduleBatchItem(p_batch_id integer, p_scheduled timestamp) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_row xtbatch.batch;
BEGIN
  SELECT * INTO v_row FROM xtbatch.batch WHERE batch_id = p_batch_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN -1;
  END IF;
  IF v_row.batch_started IS NOT NULL AND v_row.batch_completed IS NULL AND v_row.batch_lease_expires > now() THEN
    RAISE EXCEPTION 'job % is running on %; wait for it to finish or cancel it first', p_batch_id, v_row.batch_locked_by;
  END IF;
  UPDATE xtbatch.batch
     SET batch_scheduled = coalesce(p_scheduled, localtimestamp),
         batch_started = NULL, batch_completed = NULL, batch_exitstatus = NULL,
         batch_attempts = 0, batch_locked_by = NULL, batch_lease_expires = NULL, batch_last_error = NULL,
         batch_result = NULL
   WHERE batch_id = p_batch_id;
  IF coalesce(p_scheduled, localtimestamp) <= localtimestamp THEN
    PERFORM pg_notify('xtconnect_jobs', '');
  END IF;
  RETURN 1;
END
$$;
