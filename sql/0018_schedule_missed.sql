-- 0018: missed-run policies over waiting occurrences.
--
-- Each scheduler pass looks for occurrence rows inserted ahead that are still waiting after their time came while
-- no daemon ran (the policy decides which of them still run). Only waiting rows of series are in this index, so
-- the look stays cheap with a million finished jobs and a long queue of other work.
CREATE INDEX IF NOT EXISTS batch_schedule_waiting_idx ON xtbatch.batch (batch_schedule_id)
  WHERE batch_schedule_id IS NOT NULL AND batch_started IS NULL AND batch_completed IS NULL;
