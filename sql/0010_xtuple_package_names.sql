-- 0010: xtbatch as an xTuple package that hides nothing of the ERP's.
--
-- Every ERP desktop session runs login(), which puts the schema of every enabled package BEFORE public on its
-- search_path (buildSearchPath()). So once xtbatch is a registered package, any table, view, sequence, type or
-- function in xtbatch whose name also exists in public or api replaces the ERP's own for every user. 0001 and
-- 0007 made xtbatch.metric, xtbatch.report and xtbatch.metasql, which hid xTuple's settings (fetchMetricText
-- returned NULL) and all report definitions. Here they get names of their own:
--   xtbatch.metric  -> xtbatch.xtconnect_setting  on a plain database; on xTuple it is dropped: settings live in
--                      public.metric alone there (xtbatch.getsetting never read this table on xTuple);
--   xtbatch.report  -> xtbatch.xtconnect_report   (with its sequence and indexes);
--   xtbatch.metasql -> xtbatch.xtconnect_metasql  (with its sequence and indexes).
-- Rows are kept. The migrations run in one transaction (src/db/migrate.ts), so on a new install no ERP session
-- ever sees the old names. Running this file again (after 0001..0009 ran again and re-made the old tables)
-- merges their rows into the new tables and drops the old ones.
--
-- It also makes sure the package is registered the way createPkgSchema() registers one, also where an earlier
-- xtbatch schema (the commercial package's, made without createPkgSchema) existed before 0001 ran: the eight
-- inherited pkg* tables and the pkghead row, so packageIsEnabled('xtbatch') is true.

DO $$
DECLARE
  is_xtuple boolean := (SELECT is_xtuple FROM xtbatch.xtconnect_install);
  tabs text[] := ARRAY['cmd', 'cmdarg', 'image', 'metasql', 'priv', 'report', 'script', 'uiform'];
  t text;
  k text;
BEGIN
  IF is_xtuple THEN
    -- What createPkgSchema() does for each package table, for those missing here (createPkgSchema itself cannot be
    -- called again on a schema that has some of them: its existence test compares relname with 'schema.pkgX').
    FOREACH t IN ARRAY tabs LOOP
      CONTINUE WHEN to_regclass('xtbatch.pkg' || t) IS NOT NULL OR to_regclass('public.' || t) IS NULL;
      EXECUTE format('CREATE TABLE xtbatch.%I () INHERITS (public.%I)', 'pkg' || t, t);
      EXECUTE format('ALTER TABLE xtbatch.%I ALTER %I SET NOT NULL, ADD PRIMARY KEY (%I), ALTER %I SET DEFAULT nextval(%L)',
                     'pkg' || t, t || '_id', t || '_id', t || '_id', format('public.%I', t || '_' || t || '_id_seq'));
      EXECUTE format('REVOKE ALL ON xtbatch.%I FROM PUBLIC', 'pkg' || t);
      IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xtrole') THEN
        EXECUTE format('GRANT ALL ON xtbatch.%I TO xtrole', 'pkg' || t);
      END IF;
      IF t = 'cmdarg' AND to_regclass('xtbatch.pkgcmd') IS NOT NULL THEN
        EXECUTE 'ALTER TABLE xtbatch.pkgcmdarg ADD FOREIGN KEY (cmdarg_cmd_id) REFERENCES xtbatch.pkgcmd (cmd_id)';
      END IF;
      FOREACH k IN ARRAY ARRAY['before', 'alter', 'after'] LOOP
        IF to_regprocedure(format('public._pkg%s%strigger()', t, k)) IS NOT NULL THEN
          EXECUTE format('CREATE TRIGGER %I %s INSERT OR UPDATE OR DELETE ON xtbatch.%I FOR EACH ROW EXECUTE PROCEDURE public.%I()',
                         'pkg' || t || k || 'trigger', CASE k WHEN 'after' THEN 'AFTER' ELSE 'BEFORE' END,
                         'pkg' || t, '_pkg' || t || k || 'trigger');
        END IF;
      END LOOP;
    END LOOP;
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
END
$$;

-- Settings ------------------------------------------------------------------------------------------------
DO $$
DECLARE
  is_xtuple boolean := (SELECT is_xtuple FROM xtbatch.xtconnect_install);
BEGIN
  IF to_regclass('xtbatch.metric') IS NOT NULL THEN
    IF is_xtuple THEN
      DROP TABLE xtbatch.metric;
    ELSIF to_regclass('xtbatch.xtconnect_setting') IS NULL THEN
      ALTER TABLE xtbatch.metric RENAME TO xtconnect_setting;
      ALTER INDEX IF EXISTS xtbatch.metric_pkey RENAME TO xtconnect_setting_pkey;
    ELSE
      -- The old table came back (0001 run again): what is in the new one wins.
      INSERT INTO xtbatch.xtconnect_setting (metric_name, metric_value)
      SELECT metric_name, metric_value FROM xtbatch.metric
      ON CONFLICT (metric_name) DO NOTHING;
      DROP TABLE xtbatch.metric;
    END IF;
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION xtbatch.getsetting(p_name text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v text;
BEGIN
  -- On xTuple: public.metric alone, where the ERP's own fetchMetricText reads.
  IF (SELECT is_xtuple FROM xtbatch.xtconnect_install) THEN
    EXECUTE 'SELECT metric_value FROM public.metric WHERE metric_name = $1' INTO v USING p_name;
  ELSE
    SELECT metric_value INTO v FROM xtbatch.xtconnect_setting WHERE metric_name = p_name;
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
    INSERT INTO xtbatch.xtconnect_setting (metric_name, metric_value) VALUES (p_name, p_value)
    ON CONFLICT (metric_name) DO UPDATE SET metric_value = EXCLUDED.metric_value;
  END IF;
END
$$;

-- Report definitions and MetaSQL ----------------------------------------------------------------------------
DO $$
BEGIN
  IF to_regclass('xtbatch.report') IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = 'xtbatch.report'::regclass) THEN
    IF to_regclass('xtbatch.xtconnect_report') IS NULL THEN
      ALTER TABLE xtbatch.report RENAME TO xtconnect_report;
      ALTER SEQUENCE IF EXISTS xtbatch.report_report_id_seq RENAME TO xtconnect_report_report_id_seq;
      ALTER INDEX IF EXISTS xtbatch.report_pkey RENAME TO xtconnect_report_pkey;
      ALTER INDEX IF EXISTS xtbatch.report_name_grade_key RENAME TO xtconnect_report_name_grade_key;
    ELSE
      INSERT INTO xtbatch.xtconnect_report (report_name, report_grade, report_source, report_descrip, report_loaddate)
      SELECT report_name, report_grade, report_source, report_descrip, report_loaddate FROM xtbatch.report
      ON CONFLICT (report_name, report_grade) DO NOTHING;
      DROP TABLE xtbatch.report;
    END IF;
  END IF;

  IF to_regclass('xtbatch.metasql') IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = 'xtbatch.metasql'::regclass) THEN
    IF to_regclass('xtbatch.xtconnect_metasql') IS NULL THEN
      ALTER TABLE xtbatch.metasql RENAME TO xtconnect_metasql;
      ALTER SEQUENCE IF EXISTS xtbatch.metasql_metasql_id_seq RENAME TO xtconnect_metasql_metasql_id_seq;
      ALTER INDEX IF EXISTS xtbatch.metasql_pkey RENAME TO xtconnect_metasql_pkey;
      ALTER INDEX IF EXISTS xtbatch.metasql_group_name_grade_key RENAME TO xtconnect_metasql_group_name_grade_key;
    ELSE
      INSERT INTO xtbatch.xtconnect_metasql (metasql_group, metasql_name, metasql_query, metasql_grade, metasql_notes)
      SELECT metasql_group, metasql_name, metasql_query, metasql_grade, metasql_notes FROM xtbatch.metasql
      ON CONFLICT (metasql_group, metasql_name, metasql_grade) DO NOTHING;
      DROP TABLE xtbatch.metasql;
    END IF;
  END IF;
END
$$;

COMMENT ON TABLE xtbatch.xtconnect_report IS
  'OpenRPT report definitions for RunReport jobs (xtconnect); on xTuple, public.report is read as well, highest grade wins';
COMMENT ON TABLE xtbatch.xtconnect_metasql IS
  'MetaSQL statements that report definitions load with loadFromDb (xtconnect); on xTuple, public.metasql is read as well';

-- The renamed tables keep their grants; these cover a role made after 0007/0009 ran (GRANT is idempotent).
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xtrole') THEN
    GRANT SELECT ON xtbatch.xtconnect_report, xtbatch.xtconnect_metasql TO xtrole;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xtconnect') THEN
    GRANT SELECT ON xtbatch.xtconnect_report, xtbatch.xtconnect_metasql TO xtconnect;
    IF to_regclass('xtbatch.xtconnect_setting') IS NOT NULL THEN
      GRANT SELECT ON xtbatch.xtconnect_setting TO xtconnect;
    END IF;
  END IF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'could not grant on the renamed xtbatch tables: %', SQLERRM;
END
$$;
