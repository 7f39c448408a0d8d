-- 0033: the claim's row version no longer enters the console's action, time and text indexes (issue 17).
--
-- A claim is an update that is not HOT (it changes batch_started, which the queue's partial indexes name), so its
-- new row version takes an entry in every index whose predicate it meets; the finish then writes another version
-- that takes them all again. The running version lives for the length of one job, and the console finds running
-- jobs through batch_running_idx (0001), which holds exactly them; its job list reads running and other jobs as two
-- parts (src/console/jobs.ts). So these indexes keep only rows that are not running: waiting, retrying and finished.
--
-- Measured (bench/ceiling.ts, pgbench of the daemon's claim and finish): no-op jobs in claims of 50, best of 1, 2
-- and 4 clients, 34.0k -> 45.3k and 39.7k -> 42.1k jobs/s in alternating runs; mail-like rows (subject,
-- recipient and copy set) in claims of 4, 7.3k -> 8.6k and 6.7k -> 8.0k at 2 clients. docs/performance.md has the rest.
--
-- batch_user_id_idx stays whole: xTuple's own batch manager screen filters on batch_user with finished jobs shown,
-- and cannot be told to leave running rows out.
--
-- Idempotent: an index is replaced only while its predicate does not yet leave running rows out.
DO $$
DECLARE
  not_running constant text := '(batch_started IS NULL OR batch_completed IS NOT NULL)';
  ext_schema text;
  col text;
  idx text;
BEGIN
  FOREACH idx IN ARRAY ARRAY['batch_action_id_idx', 'batch_scheduled_id_idx', 'batch_subject_trgm_idx', 'batch_email_trgm_idx', 'batch_cc_trgm_idx'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = 'xtbatch' AND c.relname = idx AND pg_get_expr(i.indpred, i.indrelid) LIKE '%batch_started IS NULL%') THEN
      EXECUTE format('DROP INDEX IF EXISTS xtbatch.%I', idx);
    END IF;
  END LOOP;
  EXECUTE format('CREATE INDEX IF NOT EXISTS batch_action_id_idx ON xtbatch.batch (batch_action, batch_id) WHERE %s', not_running);
  EXECUTE format('CREATE INDEX IF NOT EXISTS batch_scheduled_id_idx ON xtbatch.batch (batch_scheduled, batch_id) WHERE %s', not_running);

  -- The text indexes only where 0020 could install pg_trgm; still only rows that have the text (0027).
  SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
  IF ext_schema IS NOT NULL THEN
    FOREACH col IN ARRAY ARRAY['batch_subject', 'batch_email', 'batch_cc'] LOOP
      EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON xtbatch.batch USING gin (%I %I.gin_trgm_ops) WHERE %I IS NOT NULL AND %s',
                     col || '_trgm_idx', col, ext_schema, col, not_running);
    END LOOP;
  END IF;
END
$$;
