-- 0004: who may use xtbatch.
-- On xTuple every ERP user is in the xtrole group, and package tables are granted to it: the ERP's own code
-- (submitEmailToBatch from hasAlarms(), the Batch Manager screens) runs as those users. Functions run with the
-- caller's rights (SECURITY INVOKER), so these grants are what lets a trigger in the ERP queue a job.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xtrole') THEN
    GRANT USAGE ON SCHEMA xtbatch TO xtrole;
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA xtbatch TO xtrole;
    GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA xtbatch TO xtrole;
  END IF;
END
$$;
