-- 0009: the xtconnect group role: only the rights the daemon needs.
--
-- A NOLOGIN role that holds the grants; an administrator makes the daemon's login a member of it:
--   CREATE ROLE xtconnect_daemon LOGIN PASSWORD '...' IN ROLE xtconnect;
-- Roles are cluster-wide and creating one needs CREATEROLE: a migrating user without it gets a NOTICE and the
-- migration goes on (an administrator can CREATE ROLE xtconnect NOLOGIN later and run this file's grants again by
-- hand; the grants below are applied whenever the role exists, whoever made it).
--
-- Tables other migrations may or may not have created (xTuple's public tables on an ERP database; the report
-- and email-sync tables) are granted through a walk over the catalog, so only those that exist are named.
-- GRANT is idempotent; each one that the migrating user may not give (a table it neither owns nor holds WITH
-- GRANT OPTION) is skipped with a NOTICE instead of failing the migration.
--
-- Not granted, on purpose (see the README, "Database role"): ERP actions call ERP functions that touch ERP
-- tables; ServerMaintenance's VACUUM/REINDEX need table ownership; RunReport's queries read ERP tables. A daemon
-- that runs those needs more (e.g. membership in xtrole, or the admin role for maintenance).
DO $$
DECLARE
  can_create boolean;
  t record;
  s record;
  grants text[];
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xtconnect') THEN
    SELECT rolsuper OR rolcreaterole INTO can_create FROM pg_roles WHERE rolname = current_user;
    IF NOT coalesce(can_create, false) THEN
      RAISE NOTICE 'xtconnect role not created: % lacks CREATEROLE; ask an administrator to run CREATE ROLE xtconnect NOLOGIN, then grant as sql/0009_xtconnect_role.sql does', current_user;
      RETURN;
    END IF;
    CREATE ROLE xtconnect NOLOGIN;
  END IF;

  -- What to grant, table by table: (schema, table name pattern, privileges). Reads everywhere the daemon reads;
  -- writes only where it writes: jobs, their parameters, its registration, the series it schedules, mail import.
  grants := ARRAY[
    -- xtbatch: jobs and their parameters (claims, outcomes, occurrences, purge).
    'xtbatch|batch|SELECT, INSERT, UPDATE, DELETE',
    'xtbatch|batchparam|SELECT, INSERT, UPDATE, DELETE',
    -- Registration and heartbeat (status reads it).
    'xtbatch|daemon|SELECT, INSERT, UPDATE, DELETE',
    -- Repeating series: config-file series are upserted, occurrences advance schedule_next.
    'xtbatch|schedule|SELECT, INSERT, UPDATE, DELETE',
    -- Read only: action map, settings, exclusions, schema version, install record, reports, MetaSQL.
    'xtbatch|action|SELECT',
    'xtbatch|metric|SELECT',
    'xtbatch|contact_exclusion|SELECT',
    'xtbatch|xtconnect_migration|SELECT',
    'xtbatch|xtconnect_install|SELECT',
    'xtbatch|job|SELECT',
    'xtbatch|report|SELECT',
    'xtbatch|metasql|SELECT',
    'xtbatch|pkgreport|SELECT',
    'xtbatch|pkgmetasql|SELECT',
    -- Email sync: messages, addresses, links (status I -> O), and how far each folder was read.
    'xtbatch|eml|SELECT, INSERT, UPDATE',
    'xtbatch|emladdr|SELECT, INSERT',
    'xtbatch|emlassc|SELECT, INSERT',
    'xtbatch|emlsync_folder|SELECT, INSERT, UPDATE',
    -- xTuple: settings, report definitions, MetaSQL, locale (number and date formats), contacts for email sync.
    'public|metric|SELECT',
    'public|report|SELECT',
    'public|metasql|SELECT',
    'public|locale|SELECT',
    'public|cntct|SELECT, INSERT',
    'public|cntcteml|SELECT, INSERT',
    -- xTuple: the effective user's locale for report formats; email sync's [xtref:...] document lookups; contact
    -- numbers (fetchNextNumber('ContactNumber') advances orderseq).
    'public|usrpref|SELECT',
    'public|orderseq|SELECT, UPDATE',
    'public|cohead|SELECT',
    'public|quhead|SELECT',
    'public|incdt|SELECT',
    'public|prj|SELECT',
    'public|crmacct|SELECT',
    'public|pohead|SELECT',
    'public|custinfo|SELECT',
    'public|vendinfo|SELECT',
    'public|emp|SELECT',
    'public|ophead|SELECT',
    'public|tohead|SELECT',
    'public|rahead|SELECT'
  ];

  EXECUTE 'GRANT USAGE ON SCHEMA xtbatch TO xtconnect';
  FOR t IN
    SELECT g[1] AS nsp, g[2] AS rel, g[3] AS privs
      FROM unnest(grants) AS x(line), LATERAL string_to_array(x.line, '|') AS g
     WHERE to_regclass(format('%I.%I', g[1], g[2])) IS NOT NULL
  LOOP
    BEGIN
      IF t.nsp <> 'xtbatch' THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO xtconnect', t.nsp);
      END IF;
      EXECUTE format('GRANT %s ON TABLE %I.%I TO xtconnect', t.privs, t.nsp, t.rel);
      -- Inserting needs the table's serial/identity sequences.
      IF t.privs LIKE '%INSERT%' THEN
        FOR s IN
          SELECT sn.nspname, sc.relname
            FROM pg_depend d
            JOIN pg_class sc ON sc.oid = d.objid AND sc.relkind = 'S'
            JOIN pg_namespace sn ON sn.oid = sc.relnamespace
           WHERE d.refobjid = format('%I.%I', t.nsp, t.rel)::regclass AND d.deptype IN ('a', 'i')
        LOOP
          EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %I.%I TO xtconnect', s.nspname, s.relname);
        END LOOP;
      END IF;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'xtconnect role: could not grant % on %.% (%); grant it as the table''s owner', t.privs, t.nsp, t.rel, SQLERRM;
    END;
  END LOOP;

  -- The xtbatch functions (submit*, getsetting, enabled, spawn_recurrence, ...) run with the caller's rights.
  EXECUTE 'GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA xtbatch TO xtconnect';
  -- xTuple's settings helpers, when present (xtbatch.getsetting reads public.metric through them on xTuple).
  FOR s IN
    SELECT p.oid::regprocedure AS sig
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'public' AND p.proname IN ('fetchmetrictext', 'fetchmetricbool', 'fetchmetricvalue', 'fetchnextnumber')
  LOOP
    BEGIN
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO xtconnect', s.sig);
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'xtconnect role: could not grant EXECUTE on % (%)', s.sig, SQLERRM;
    END;
  END LOOP;
END
$$;
