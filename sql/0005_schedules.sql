-- 0005: repeating jobs.
--
-- Two kinds of series, both exactly once per occurrence:
--  * xTuple's own recurrence: batch_reschedinterval D, W or M. When an occurrence completes, the next one is
--    inserted in the same statement (xtbatch.spawn_recurrence), dated from the first job of the series, never
--    by adding to the last one. batch_recurring_batch_id links the series.
--  * xtconnect schedules (xtbatch.schedule): cron or every-N-minutes/hours/days in an IANA time zone, with an
--    optional end, maximum count and missed-run policy. The daemons' scheduler inserts their occurrences.

CREATE TABLE IF NOT EXISTS xtbatch.schedule (
  schedule_id          serial PRIMARY KEY,
  -- Schedules from a config file are matched by name on every start.
  schedule_name        text UNIQUE,
  schedule_source      text NOT NULL DEFAULT 'cli' CHECK (schedule_source IN ('cli', 'config', 'sql')),
  schedule_action      text NOT NULL CHECK (schedule_action <> ''),
  -- The job each occurrence becomes: batch columns by their short names, and params [{name, value, type}].
  schedule_job         jsonb NOT NULL DEFAULT '{}'::jsonb,
  schedule_cron        text,
  schedule_every_n     integer CHECK (schedule_every_n > 0),
  schedule_every_unit  text CHECK (schedule_every_unit IN ('minutes', 'hours', 'days')),
  schedule_timezone    text NOT NULL DEFAULT 'UTC',
  -- The anchor: every-N rules count from it, and nothing runs before it.
  schedule_start       timestamptz NOT NULL DEFAULT now(),
  schedule_end         timestamptz,
  schedule_max_count   integer CHECK (schedule_max_count > 0),
  schedule_count       integer NOT NULL DEFAULT 0,
  -- What to do with occurrences missed while no daemon ran: run the latest once ('once'), run each of the
  -- latest schedule_missed_max ('all'), or none ('skip').
  schedule_missed      text NOT NULL DEFAULT 'once' CHECK (schedule_missed IN ('once', 'all', 'skip')),
  schedule_missed_max  integer NOT NULL DEFAULT 10 CHECK (schedule_missed_max BETWEEN 1 AND 1000),
  -- The next occurrence not yet inserted; NULL when the series has ended.
  schedule_next        timestamptz,
  schedule_last        timestamptz,
  schedule_paused      boolean NOT NULL DEFAULT false,
  schedule_removed     timestamptz,
  -- 'config' when the series left the config file (putting it back revives it); else who removed it.
  schedule_removed_by  text,
  schedule_created     timestamptz NOT NULL DEFAULT now(),
  schedule_created_by  text NOT NULL DEFAULT CURRENT_USER,
  CHECK ((schedule_cron IS NULL) <> (schedule_every_n IS NULL)),
  CHECK ((schedule_every_n IS NULL) = (schedule_every_unit IS NULL))
);

-- The scheduler reads only series that are due: cost stays flat in the number of series that are not.
CREATE INDEX IF NOT EXISTS schedule_due_idx ON xtbatch.schedule (schedule_next)
  WHERE schedule_next IS NOT NULL AND NOT schedule_paused AND schedule_removed IS NULL;

ALTER TABLE xtbatch.batch
  ADD COLUMN IF NOT EXISTS batch_schedule_id  integer REFERENCES xtbatch.schedule (schedule_id),
  -- The occurrence's instant. batch_scheduled is local time without zone, and two instants an hour apart
  -- share one local time when the clocks go back; the instant does not.
  ADD COLUMN IF NOT EXISTS batch_occurrence   timestamptz,
  -- xTuple recurrence: where the series' grid starts (the first job's original time). Kept apart from
  -- batch_scheduled so that rescheduling one occurrence, even the first, moves only that one.
  ADD COLUMN IF NOT EXISTS batch_recurrence_anchor timestamp;

-- Exactly once: a second insert of the same occurrence is impossible, whichever daemon tries and whenever.
CREATE UNIQUE INDEX IF NOT EXISTS batch_schedule_occurrence_uq ON xtbatch.batch (batch_schedule_id, batch_occurrence)
  WHERE batch_schedule_id IS NOT NULL;

-- The same for xTuple's recurrence. Rows an earlier batch manager left may already repeat (series, time); they
-- are kept as they are, and the constraint covers every row from here on.
DO $$
DECLARE
  fence integer;
BEGIN
  IF to_regclass('xtbatch.batch_recurrence_uq') IS NULL THEN
    IF EXISTS (SELECT 1 FROM xtbatch.batch WHERE batch_recurring_batch_id IS NOT NULL
               GROUP BY batch_recurring_batch_id, batch_scheduled HAVING count(*) > 1) THEN
      SELECT max(batch_id) INTO fence FROM xtbatch.batch;
      EXECUTE format('CREATE UNIQUE INDEX batch_recurrence_uq ON xtbatch.batch (batch_recurring_batch_id, batch_scheduled) '
                     'WHERE batch_recurring_batch_id IS NOT NULL AND batch_id > %s', fence);
    ELSE
      CREATE UNIQUE INDEX batch_recurrence_uq ON xtbatch.batch (batch_recurring_batch_id, batch_scheduled)
        WHERE batch_recurring_batch_id IS NOT NULL;
    END IF;
  END IF;
END
$$;

-- The first occurrence of xTuple's recurrence after p_after: the anchor advanced by whole days, weeks or calendar
-- months. Months count from the anchor, so a series on the 31st falls on the 28th/29th/30th in shorter months
-- and returns to the 31st after them. Local time of day is kept across clock changes (no zone here).
CREATE OR REPLACE FUNCTION xtbatch.next_recurrence(p_anchor timestamp, p_unit text, p_after timestamp)
RETURNS timestamp LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  step interval;
  k integer;
  t timestamp;
BEGIN
  IF p_unit NOT IN ('D', 'W', 'M') THEN
    RETURN NULL;
  END IF;
  IF p_after < p_anchor THEN
    RETURN p_anchor;
  END IF;
  IF p_unit = 'M' THEN
    k := (extract(year FROM p_after)::int - extract(year FROM p_anchor)::int) * 12
         + extract(month FROM p_after)::int - extract(month FROM p_anchor)::int;
    step := interval '1 month';
  ELSE
    step := CASE p_unit WHEN 'D' THEN interval '1 day' ELSE interval '7 days' END;
    k := floor(extract(epoch FROM (p_after - p_anchor)) / extract(epoch FROM step))::int;
  END IF;
  k := greatest(k - 1, 1);
  LOOP
    t := p_anchor + step * k;
    EXIT WHEN t > p_after;
    k := k + 1;
  END LOOP;
  RETURN t;
END
$$;

-- Inserts the next occurrence of an xTuple-recurring job that just completed (whether it succeeded or failed: a
-- failure does not stop the series). Called in the statement that completes it. Missed occurrences are not
-- flooded: the next one is the first after now. Returns the new batch_id, or NULL when there is none (not
-- recurring, or the occurrence exists already).
CREATE OR REPLACE FUNCTION xtbatch.spawn_recurrence(p_batch_id integer, p_now timestamp DEFAULT localtimestamp)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  r xtbatch.batch;
  series integer;
  anchor timestamp;
  nxt timestamp;
  new_id integer;
BEGIN
  SELECT * INTO r FROM xtbatch.batch WHERE batch_id = p_batch_id;
  IF NOT FOUND OR coalesce(r.batch_reschedinterval, 'N') NOT IN ('D', 'W', 'M') THEN
    RETURN NULL;
  END IF;
  series := coalesce(r.batch_recurring_batch_id, r.batch_id);
  anchor := r.batch_recurrence_anchor;
  IF anchor IS NULL THEN
    -- Rows from before xtconnect: the first job's time is the grid.
    SELECT coalesce(batch_recurrence_anchor, batch_scheduled) INTO anchor FROM xtbatch.batch WHERE batch_id = series;
  END IF;
  anchor := coalesce(anchor, r.batch_scheduled);
  nxt := xtbatch.next_recurrence(anchor, r.batch_reschedinterval, greatest(r.batch_scheduled, p_now));
  INSERT INTO xtbatch.batch (batch_action, batch_parameter, batch_user, batch_email, batch_submitted, batch_scheduled,
                             batch_responsebody, batch_subject, batch_filename, batch_fromemail, batch_reschedinterval,
                             batch_cc, batch_bcc, batch_replyto, batch_emailhtml, batch_recurring_batch_id,
                             batch_priority, batch_max_attempts, batch_timeout_seconds, batch_recurrence_anchor)
  VALUES (r.batch_action, r.batch_parameter, r.batch_user, r.batch_email, localtimestamp, nxt,
          r.batch_responsebody, r.batch_subject, r.batch_filename, r.batch_fromemail, r.batch_reschedinterval,
          r.batch_cc, r.batch_bcc, r.batch_replyto, r.batch_emailhtml, series,
          r.batch_priority, r.batch_max_attempts, r.batch_timeout_seconds, anchor)
  ON CONFLICT DO NOTHING
  RETURNING batch_id INTO new_id;
  IF new_id IS NOT NULL THEN
    INSERT INTO xtbatch.batchparam (batchparam_batch_id, batchparam_order, batchparam_name, batchparam_value, batchparam_type)
    SELECT new_id, batchparam_order, batchparam_name, batchparam_value, batchparam_type
      FROM xtbatch.batchparam WHERE batchparam_batch_id = p_batch_id;
  END IF;
  RETURN new_id;
END
$$;

-- A series added, changed, paused or resumed wakes the daemons' schedulers (which otherwise sleep until the
-- earliest series is due). Removals need no wake-up.
CREATE OR REPLACE FUNCTION xtbatch.notify_schedules() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('xtconnect_schedules', '');
  RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS xtconnect_schedules_changed ON xtbatch.schedule;
CREATE TRIGGER xtconnect_schedules_changed
  AFTER INSERT OR UPDATE OF schedule_cron, schedule_every_n, schedule_every_unit, schedule_timezone, schedule_start,
                            schedule_paused, schedule_removed, schedule_max_count, schedule_end
  ON xtbatch.schedule FOR EACH STATEMENT EXECUTE FUNCTION xtbatch.notify_schedules();

-- The view gains the new columns (a view's column list is fixed when it is made).
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
    GRANT SELECT, INSERT, UPDATE, DELETE ON xtbatch.schedule, xtbatch.job TO xtrole;
    GRANT USAGE, SELECT, UPDATE ON SEQUENCE xtbatch.schedule_schedule_id_seq TO xtrole;
  END IF;
END
$$;
