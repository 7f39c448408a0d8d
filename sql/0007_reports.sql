-- 0007: report definitions and MetaSQL statements that RunReport jobs can use.
--
-- On xTuple the ERP keeps its definitions in public.report and public.metasql, and xtconnect reads them there.
-- These tables hold definitions for databases that are not xTuple (a plain PostgreSQL with the job table), and
-- definitions an administrator adds without touching the ERP's own tables. Same columns as xTuple's, so a row
-- can be copied across with INSERT ... SELECT. The names differ from xTuple's package tables (xtbatch.pkgreport,
-- xtbatch.pkgmetasql, which inherit from public.report/metasql), so nothing here collides with them.
-- Idempotent: CREATE ... IF NOT EXISTS only.

CREATE TABLE IF NOT EXISTS xtbatch.report (
  report_id        serial PRIMARY KEY,
  report_name      text NOT NULL,
  report_grade     integer NOT NULL DEFAULT 0,
  report_source    text NOT NULL,
  report_descrip   text,
  report_loaddate  timestamp without time zone DEFAULT now()
);
-- One definition per name and grade, as xTuple's report editor enforces: "highest grade wins" needs no tie-break.
CREATE UNIQUE INDEX IF NOT EXISTS report_name_grade_key ON xtbatch.report (report_name, report_grade);

CREATE TABLE IF NOT EXISTS xtbatch.metasql (
  metasql_id       serial PRIMARY KEY,
  metasql_group    text NOT NULL,
  metasql_name     text NOT NULL,
  metasql_query    text NOT NULL,
  metasql_grade    integer NOT NULL DEFAULT 0,
  metasql_notes    text
);
CREATE UNIQUE INDEX IF NOT EXISTS metasql_group_name_grade_key ON xtbatch.metasql (metasql_group, metasql_name, metasql_grade);

COMMENT ON TABLE xtbatch.report IS
  'OpenRPT report definitions for RunReport jobs (xtconnect); on xTuple, public.report is read as well, highest grade wins';
COMMENT ON TABLE xtbatch.metasql IS
  'MetaSQL statements that report definitions load with loadFromDb (xtconnect); on xTuple, public.metasql is read as well';

-- ERP users may read the definitions (the report screens list them); writing them is the administrator's job.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xtrole') THEN
    GRANT SELECT ON xtbatch.report, xtbatch.metasql TO xtrole;
  END IF;
END
$$;
