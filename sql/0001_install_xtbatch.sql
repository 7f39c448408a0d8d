-- 0001: the xtbatch schema, xTuple's job tables, and the columns the daemon adds.
--
-- Idempotent: safe to run on a plain PostgreSQL database, on an xTuple database without xtbatch, and on an
-- xTuple database where the commercial xTuple Connect package already created xtbatch with rows in it.
-- Nothing here drops a table or rewrites a row.

-- An xTuple database is recognised by public.pkghead, public.metric and createPkgSchema(). There the schema is
-- made the way xTuple makes package schemas, so packageIsEnabled('xtbatch') is true and the ERP's own code
-- (hasAlarms(), EDI, ...) queues work for us.
DO $$
DECLARE
  is_xtuple boolean := to_regclass('public.pkghead') IS NOT NULL
                   AND to_regclass('public.metric') IS NOT NULL
                   AND EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                               WHERE n.nspname = 'public' AND p.proname = 'createpkgschema');
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'xtbatch') THEN
    IF is_xtuple THEN
      PERFORM public.createpkgschema('xtbatch', 'xTuple Connect batch manager (xtconnect)');
    ELSE
      CREATE SCHEMA xtbatch;
    END IF;
  END IF;
  -- Nested, not "AND": PL/pgSQL plans the whole condition, and public.pkghead exists only on xTuple.
  IF is_xtuple THEN
    -- pkghead_developer and pkghead_version are NOT NULL on a real xTuple database (xTuple's updater makes the
    -- table); some older or trimmed copies lack pkghead_developer, so the column list follows the catalog.
    IF NOT EXISTS (SELECT 1 FROM public.pkghead WHERE pkghead_name = 'xtbatch') THEN
      IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'public.pkghead'::regclass
                    AND attname = 'pkghead_developer' AND NOT attisdropped) THEN
        EXECUTE $i$INSERT INTO public.pkghead (pkghead_name, pkghead_descrip, pkghead_version, pkghead_developer,
                                              pkghead_created, pkghead_updated)
                  VALUES ('xtbatch', 'xTuple Connect batch manager (xtconnect)', '1.0.0', 'xtconnect', now(), now())$i$;
      ELSE
        EXECUTE $i$INSERT INTO public.pkghead (pkghead_name, pkghead_descrip, pkghead_version)
                  VALUES ('xtbatch', 'xTuple Connect batch manager (xtconnect)', '1.0.0')$i$;
      END IF;
    END IF;
  END IF;

  -- Remembered so settings functions know where metrics live without probing the catalog on every call.
  CREATE TABLE IF NOT EXISTS xtbatch.xtconnect_install (
    install_id    integer PRIMARY KEY DEFAULT 1 CHECK (install_id = 1),
    is_xtuple     boolean NOT NULL,
    installed_at  timestamptz NOT NULL DEFAULT now()
  );
  INSERT INTO xtbatch.xtconnect_install (is_xtuple) VALUES (is_xtuple) ON CONFLICT (install_id) DO NOTHING;
END
$$;

CREATE TABLE IF NOT EXISTS xtbatch.xtconnect_migration (
  migration_version  integer PRIMARY KEY,
  migration_name     text NOT NULL,
  migration_applied  timestamptz NOT NULL DEFAULT now()
);

-- xTuple's columns and types. Timestamps are "without time zone" as in xTuple: ERP sessions write them in the
-- server's local time, so the daemon compares them with localtimestamp (which also lets the index be used).
CREATE TABLE IF NOT EXISTS xtbatch.batch (
  batch_id                  serial PRIMARY KEY,
  batch_action              text NOT NULL,
  batch_parameter           text,
  batch_user                text DEFAULT CURRENT_USER,
  batch_email               text,
  batch_submitted           timestamp without time zone DEFAULT localtimestamp,
  batch_scheduled           timestamp without time zone DEFAULT localtimestamp,
  batch_started             timestamp without time zone,
  batch_completed           timestamp without time zone,
  batch_responsebody        text,
  batch_subject             text,
  batch_filename            text,
  batch_exitstatus          text,
  batch_fromemail           text,
  batch_reschedinterval     character(1) DEFAULT 'N',
  batch_cc                  text,
  batch_bcc                 text,
  batch_replyto             text,
  batch_emailhtml           boolean DEFAULT false,
  batch_recurring_batch_id  integer REFERENCES xtbatch.batch (batch_id)
);

-- Older xTuple releases lack some of xTuple's own columns; add them before ours.
ALTER TABLE xtbatch.batch
  ADD COLUMN IF NOT EXISTS batch_cc                 text,
  ADD COLUMN IF NOT EXISTS batch_bcc                text,
  ADD COLUMN IF NOT EXISTS batch_replyto            text,
  ADD COLUMN IF NOT EXISTS batch_emailhtml          boolean DEFAULT false,
  ADD COLUMN IF NOT EXISTS batch_fromemail          text,
  ADD COLUMN IF NOT EXISTS batch_reschedinterval    character(1) DEFAULT 'N',
  ADD COLUMN IF NOT EXISTS batch_recurring_batch_id integer;

-- What the daemon needs beyond xTuple's columns. Constant defaults: no table rewrite on a big xTuple table.
ALTER TABLE xtbatch.batch
  ADD COLUMN IF NOT EXISTS batch_priority        smallint NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS batch_attempts        integer  NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS batch_max_attempts    integer,
  ADD COLUMN IF NOT EXISTS batch_timeout_seconds integer,
  ADD COLUMN IF NOT EXISTS batch_locked_by       text,
  ADD COLUMN IF NOT EXISTS batch_lease_expires   timestamptz,
  ADD COLUMN IF NOT EXISTS batch_last_error      text,
  ADD COLUMN IF NOT EXISTS batch_result          jsonb;

-- Finding the next due job must stay cheap with a million finished rows: only waiting rows are in this index.
CREATE INDEX IF NOT EXISTS batch_due_idx ON xtbatch.batch (batch_priority, batch_scheduled, batch_id)
  WHERE batch_started IS NULL AND batch_completed IS NULL;
-- Rescue of expired leases looks only at running rows.
CREATE INDEX IF NOT EXISTS batch_running_idx ON xtbatch.batch (batch_lease_expires)
  WHERE batch_started IS NOT NULL AND batch_completed IS NULL;
-- Purge and "failed in the last 24 h" read finished rows by completion time.
CREATE INDEX IF NOT EXISTS batch_completed_idx ON xtbatch.batch (batch_completed)
  WHERE batch_completed IS NOT NULL;

CREATE TABLE IF NOT EXISTS xtbatch.batchparam (
  batchparam_id        serial PRIMARY KEY,
  batchparam_batch_id  integer NOT NULL REFERENCES xtbatch.batch (batch_id) ON DELETE CASCADE,
  batchparam_order     integer,
  batchparam_name      text,
  batchparam_value     text,
  batchparam_type      text
);
CREATE INDEX IF NOT EXISTS batchparam_batch_id_idx ON xtbatch.batchparam (batchparam_batch_id);

-- Daemons register here; status and lease rescue read it.
CREATE TABLE IF NOT EXISTS xtbatch.daemon (
  daemon_id         text PRIMARY KEY,
  daemon_host       text NOT NULL,
  daemon_pid        integer NOT NULL,
  daemon_version    text NOT NULL,
  daemon_started    timestamptz NOT NULL DEFAULT now(),
  daemon_heartbeat  timestamptz NOT NULL DEFAULT now(),
  daemon_running    integer NOT NULL DEFAULT 0,
  daemon_claiming   boolean NOT NULL DEFAULT true
);

-- Settings on a plain database (on xTuple they live in public.metric).
CREATE TABLE IF NOT EXISTS xtbatch.metric (
  metric_name   text PRIMARY KEY,
  metric_value  text
);

-- "Exclude Contacts Matching": one row per pattern.
CREATE TABLE IF NOT EXISTS xtbatch.contact_exclusion (
  contact_exclusion_pattern  text PRIMARY KEY,
  contact_exclusion_added    timestamptz NOT NULL DEFAULT now(),
  contact_exclusion_by       text NOT NULL DEFAULT CURRENT_USER
);
