-- 0036: an ERP action's batch_completed is the time its work finished, not the time its transaction began.
--
-- xtbatch.xtconnect_run_actions (sql/0032, sql/0035) wrote batch_completed = localtimestamp, which PostgreSQL
-- fixes at the start of the transaction: the transaction the daemon opens before the ERP function runs. A mapped
-- function that took 8 s showed as completed 6 ms after it started, on xTuple's batch manager screen, the console
-- and in `xtconnect list` (found by running it on xTuple's real schema). clock_timestamp() is read once, when the
-- "done" is written after the work, cast to "timestamp without time zone" in the session's zone as localtimestamp
-- is; the jobs of one group share it, as they share their transaction (per row, clock_timestamp() would differ).
--
-- Idempotent: CREATE OR REPLACE, same signature; otherwise the function of sql/0035 unchanged.

CREATE OR REPLACE FUNCTION xtbatch.xtconnect_run_actions(
  p_owner    text,       -- the daemon; NULL: no lease (a handler called outside a daemon): the call only
  p_version  bigint,
  p_ids      integer[],  -- per job
  p_attempts integer[],  -- per job
  p_tokens   bigint[],   -- per job
  p_stmt     integer[],  -- per job: its statement in p_sql (1-based)
  p_args     jsonb,      -- per job: a JSON array of its arguments as text (or null), in the statement's order
  p_sql      text[],     -- per statement: returns one row (result jsonb, n integer) from its arguments in $1 (text[])
  p_fn       text[],     -- per statement: the function's name for batch_result
  p_retset   boolean[],  -- per statement: set-returning (batch_result then carries rowCount)
  p_batch    text[])     -- per statement, or NULL: all its jobs' calls in one statement, (results jsonb[], ns int[]) from $1 (p_args)
RETURNS TABLE (job_id integer, outcome text, job_result jsonb, err_code text, err_message text, elapsed_us float8)
LANGUAGE plpgsql AS $$
DECLARE
  i integer;
  k integer;
  res jsonb;
  n integer;
  outp jsonb;
  t0 timestamptz;
  done_ids integer[] := '{}';
  done_results jsonb[] := '{}';
  written integer;
  spawned integer;
  jobs integer := coalesce(array_length(p_ids, 1), 0);
  results jsonb[];
  ns integer[];
  fenced integer;
  fast boolean := false;
  done_at timestamp;
BEGIN
  IF p_version IS NOT NULL AND p_version IS DISTINCT FROM (SELECT v.action_version FROM xtbatch.action_version v) THEN
    job_id := NULL; outcome := 'stale'; job_result := NULL; err_code := NULL; err_message := NULL; elapsed_us := 0;
    RETURN NEXT;
    RETURN;
  END IF;
  -- The common case first: a group of one statement whose jobs all succeed. Every call in one statement, every
  -- fence in one, in one block: when any call fails or any fence does not hold, the block is rolled back (none of
  -- its work stays) and each job runs again on its own below, where a failure or a lost lease is that job's alone.
  IF p_owner IS NOT NULL AND jobs > 1 AND cardinality(p_sql) = 1 AND p_batch[1] IS NOT NULL THEN
    t0 := clock_timestamp();
    BEGIN
      EXECUTE p_batch[1] INTO results, ns USING p_args;
      SELECT count(*) INTO fenced FROM (
        SELECT 1 FROM xtbatch.batch b JOIN unnest((SELECT p_ids), (SELECT p_attempts), (SELECT p_tokens)) AS f(id, attempt, token) ON b.batch_id = f.id
         WHERE b.batch_id = ANY ((SELECT p_ids)::integer[])
           AND (b.batch_locked_by = p_owner AND b.batch_attempts = f.attempt AND b.batch_completed IS NULL
                AND b.batch_lease_token = f.token AND b.batch_lease_expires > clock_timestamp()) IS TRUE
         ORDER BY b.batch_id
           FOR UPDATE OF b) l;
      IF fenced <> jobs OR coalesce(cardinality(results), 0) <> jobs THEN
        RAISE EXCEPTION 'fence' USING ERRCODE = 'XTL02';
      END IF;
      fast := true;
    EXCEPTION WHEN OTHERS THEN
      fast := false;
    END;
  END IF;
  IF fast THEN
    FOR i IN 1 .. jobs LOOP
      outp := jsonb_build_object('function', p_fn[1], 'result', results[i]);
      done_ids := done_ids || p_ids[i];
      done_results := done_results || outp;
      job_id := p_ids[i]; outcome := 'done'; job_result := outp; err_code := NULL; err_message := NULL;
      elapsed_us := extract(epoch FROM clock_timestamp() - t0) * 1e6 / jobs;
      RETURN NEXT;
    END LOOP;
  END IF;
  FOR i IN 1 .. CASE WHEN fast THEN 0 ELSE jobs END LOOP
    k := p_stmt[i];
    t0 := clock_timestamp();
    BEGIN
      EXECUTE p_sql[k] INTO res, n USING ARRAY(SELECT jsonb_array_elements_text(p_args -> (i - 1)));
      outp := jsonb_build_object('function', p_fn[k], 'result', res);
      IF p_retset[k] THEN
        outp := outp || jsonb_build_object('rowCount', coalesce(n, 0));
      END IF;
      IF p_owner IS NOT NULL THEN
        -- The fence, at this instant by the server's clock; the row stays locked until COMMIT.
        PERFORM 1 FROM xtbatch.batch b
          WHERE b.batch_id = p_ids[i]
            AND (b.batch_locked_by = p_owner AND b.batch_attempts = p_attempts[i] AND b.batch_completed IS NULL
                 AND b.batch_lease_token = p_tokens[i] AND b.batch_lease_expires > clock_timestamp()) IS TRUE
          FOR UPDATE OF b;
        IF NOT FOUND THEN
          RAISE EXCEPTION 'job %: its lease expired or the job was taken back before its transaction could commit', p_ids[i]
            USING ERRCODE = 'XTL01';
        END IF;
        done_ids := done_ids || p_ids[i];
        done_results := done_results || outp;
      END IF;
      job_id := p_ids[i]; outcome := 'done'; job_result := outp; err_code := NULL; err_message := NULL;
      elapsed_us := extract(epoch FROM clock_timestamp() - t0) * 1e6;
      RETURN NEXT;
    EXCEPTION WHEN OTHERS THEN
      -- Only this job's block is rolled back. (query_canceled, a statement timeout or a cancel, is not caught by
      -- OTHERS: it ends the whole statement.)
      job_id := p_ids[i]; outcome := CASE WHEN SQLSTATE = 'XTL01' THEN 'fenced' ELSE 'error' END; job_result := NULL;
      err_code := SQLSTATE; err_message := SQLERRM;
      elapsed_us := extract(epoch FROM clock_timestamp() - t0) * 1e6;
      RETURN NEXT;
    END;
  END LOOP;
  IF cardinality(done_ids) > 0 THEN
    -- Read once, after the work: the group's jobs share it, as they share their transaction (sql/0036).
    done_at := clock_timestamp()::timestamp;
    -- "done" for every job whose fence held, in one statement (a statement per job cost twice as much: each one
    -- opens the table's indexes and fires the console's statement trigger). The rows are ours and locked since
    -- their fence; the conditions are said again only as a safeguard.
    WITH d AS MATERIALIZED (
      SELECT * FROM unnest((SELECT done_ids), (SELECT done_results)) AS d(id, res)
    ), fin AS (
      UPDATE xtbatch.batch b
         SET batch_completed      = (SELECT done_at),
             batch_exitstatus     = '',
             batch_lease_expires  = NULL,
             batch_result         = coalesce(d.res, b.batch_result),
             batch_retrying_since = NULL,
             batch_error_history  = NULL,
             batch_recurring_batch_id = CASE WHEN b.batch_reschedinterval IN ('D', 'W', 'M')
                                             THEN coalesce(b.batch_recurring_batch_id, b.batch_id)
                                             ELSE b.batch_recurring_batch_id END,
             batch_recurrence_anchor  = CASE WHEN b.batch_reschedinterval IN ('D', 'W', 'M') AND b.batch_recurring_batch_id IS NULL
                                             THEN coalesce(b.batch_recurrence_anchor, b.batch_scheduled)
                                             ELSE b.batch_recurrence_anchor END
        FROM d
       WHERE b.batch_id = d.id
         -- Said twice on purpose (as in FINISH_SQL): "= ANY" makes the primary key the way in.
         AND b.batch_id = ANY ((SELECT done_ids)::integer[])
         AND (b.batch_locked_by = p_owner AND b.batch_completed IS NULL) IS TRUE
      RETURNING b.batch_id, b.batch_reschedinterval
    )
    -- xTuple's recurrence: the next occurrence in this same statement, as FINISH_SQL has it.
    SELECT count(*), count(CASE WHEN fin.batch_reschedinterval IN ('D', 'W', 'M') THEN xtbatch.spawn_recurrence(fin.batch_id) END)
      INTO written, spawned FROM fin;
    IF written <> cardinality(done_ids) THEN
      -- Cannot happen while the rows stay locked; if it did, no work may commit without its "done".
      RAISE EXCEPTION 'xtconnect_run_actions: % of % job(s) could not be marked done', cardinality(done_ids) - written, cardinality(done_ids);
    END IF;
  END IF;
END
$$;

COMMENT ON FUNCTION xtbatch.xtconnect_run_actions(text, bigint, integer[], integer[], bigint[], integer[], jsonb, text[], text[], boolean[], text[]) IS
  'xtconnect: runs a group of ERP-action jobs, each call with its fenced done in a subtransaction of its own (sql/0032, sql/0035, sql/0036)';
