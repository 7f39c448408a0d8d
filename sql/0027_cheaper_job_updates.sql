-- 0027: fewer index entries per claim and finish (issue 17). Neither update is HOT (both change columns of the
-- partial indexes' predicates), so each writes an entry into every index whose predicate the new row version
-- meets: these are the ones that paid without need.
--
-- 1. The console's "running" list does not need an index of its own: running rows are few (at most the daemons'
--    concurrency) and batch_running_idx (0001) holds exactly them; a bitmap of it and a sort of a few rows answer
--    the list. batch_running_id_idx cost one more entry per claim.
DROP INDEX IF EXISTS xtbatch.batch_running_id_idx;

-- 2. The console's trigram indexes hold only rows that have the text.
--
-- A GIN index takes an entry for every new row version, NULL or not, and every update of a job that is not HOT
-- (the claim and the finish are not) writes one into each of the three. Jobs other than mail (ERP actions,
-- reports, transfers, maintenance) have no subject, recipient or copy: for them the entries are pure cost, paid
-- twice per job. The console's search ("subject or recipient contains", src/console/jobs.ts) is an ILIKE on the
-- column, which is strict: the planner proves "col ILIKE x" implies "col IS NOT NULL", so it still uses these.
-- Idempotent: only an index without a predicate is replaced; where pg_trgm was not available nothing happens.
DO $$
DECLARE
  ext_schema text;
  col text;
  idx text;
BEGIN
  SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
  IF ext_schema IS NULL THEN
    RETURN;
  END IF;
  FOREACH col IN ARRAY ARRAY['batch_subject', 'batch_email', 'batch_cc'] LOOP
    idx := col || '_trgm_idx';
    IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'xtbatch' AND c.relname = idx AND i.indpred IS NULL) THEN
      EXECUTE format('DROP INDEX xtbatch.%I', idx);
    END IF;
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON xtbatch.batch USING gin (%I %I.gin_trgm_ops) WHERE %I IS NOT NULL',
                   idx, col, ext_schema, col);
  END LOOP;
END
$$;
