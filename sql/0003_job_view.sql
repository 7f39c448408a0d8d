-- 0003: one readable state per job, derived the way xTuple's screens derive it, plus what the daemon adds.
-- For administrators (SELECT * FROM xtbatch.job WHERE state = 'failed') and for `xtconnect list`.
-- Dropped first: a view's column list is fixed when it is made, and b.* has grown since (0005, 0011, 0015), so
-- CREATE OR REPLACE fails when this file runs again on a migrated database. Later migrations grant on it again.
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
