-- 0015: fencing tokens and retries by time (issue 13).
--
-- batch_lease_token: set by every claim to a number the claiming daemon never used before. Every write a job makes
--   under its lease (the outcome, the ERP action's own transaction) names the owner AND this token, so a daemon
--   whose job was taken back and claimed again (even by itself) can never write over the new run.
-- batch_retrying_since: when the current series of transient failures began (server clock); retries stop once
--   it is older than the action's retry period. Cleared when the job finishes.
-- batch_error_history: the last errors of that series ([{"at", "attempt", "error"}], at most 10), written into
--   batch_exitstatus when the job finally fails.
-- All nullable without defaults: no table rewrite on a big xTuple table.
ALTER TABLE xtbatch.batch
  ADD COLUMN IF NOT EXISTS batch_lease_token     bigint,
  ADD COLUMN IF NOT EXISTS batch_retrying_since  timestamptz,
  ADD COLUMN IF NOT EXISTS batch_error_history   jsonb;

-- Appends one error to a job's history, keeping the last 10 (the daemon writes them into batch_exitstatus when it
-- gives up). A name no xTuple object has: xtbatch is on ERP sessions' search_path (see 0010).
CREATE OR REPLACE FUNCTION xtbatch.xtconnect_history_push(p_history jsonb, p_attempt integer, p_error text)
RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN jsonb_array_length(coalesce(p_history, '[]'::jsonb)) >= 10 THEN p_history - 0
              ELSE coalesce(p_history, '[]'::jsonb) END
         || jsonb_build_array(jsonb_build_object('at', to_char(now(), 'YYYY-MM-DD HH24:MI:SSOF'),
                                                 'attempt', p_attempt, 'error', p_error))
$$;
