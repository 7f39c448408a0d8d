-- 0022: a version number for xtbatch.action, so that the daemon can cache the ERP action mappings.
--
-- The daemon's ERP-action handler (src/handlers/erpAction.ts) keeps, per connection pool, each action's row of
-- xtbatch.action with its argument types and function as the catalog resolved them, instead of reading them for
-- every job (issue 17: 7 round trips per job). Each job reads this number in the same round trip as its BEGIN;
-- when it differs from the number the cached entry was read with, the cache is emptied and the mapping read
-- again. A statement trigger raises the number with every change of xtbatch.action (insert, update, delete,
-- truncate), in the changing transaction: the new number becomes visible exactly when the change does, so a
-- daemon can never cache the old mapping under the new number.
--
-- Idempotent: the table and its one row are created when missing; the function and trigger are replaced.

CREATE TABLE IF NOT EXISTS xtbatch.action_version (
  action_version_id  integer PRIMARY KEY DEFAULT 1 CHECK (action_version_id = 1),
  action_version     bigint NOT NULL DEFAULT 1
);

COMMENT ON TABLE xtbatch.action_version IS
  'xtconnect: raised by a trigger whenever xtbatch.action changes; daemons cache action mappings by it';

INSERT INTO xtbatch.action_version (action_version_id, action_version) VALUES (1, 1)
  ON CONFLICT (action_version_id) DO NOTHING;

-- SECURITY DEFINER: whoever may change xtbatch.action (an ERP administrator, a package's install script) raises
-- the number without a grant on this table; the search path is fixed so the caller's cannot redirect it.
CREATE OR REPLACE FUNCTION xtbatch.action_version_bump() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  UPDATE xtbatch.action_version SET action_version = action_version + 1 WHERE action_version_id = 1;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS xtconnect_action_version ON xtbatch.action;
CREATE TRIGGER xtconnect_action_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON xtbatch.action
  FOR EACH STATEMENT EXECUTE FUNCTION xtbatch.action_version_bump();

-- The daemon's role and the ERP users read it (as they read xtbatch.action, sql/0004 and sql/0009).
DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['xtconnect', 'xtrole'] LOOP
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      BEGIN
        EXECUTE format('GRANT SELECT ON xtbatch.action_version TO %I', r);
      EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'could not grant SELECT on xtbatch.action_version to %: %', r, SQLERRM;
      END;
    END IF;
  END LOOP;
END
$$;
