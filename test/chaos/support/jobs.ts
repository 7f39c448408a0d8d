import type { Pool } from '../../../src/db/pool';
import type { Interval } from './intervals';
import { tokenAddress } from './recordingSmtp';

/** The ERP action the chaos tests queue: xtbatch.action maps it to chaos.slow_action(job, ms). */
export const ERP_ACTION = 'ChaosSlow';

/**
 * An ERP action whose every committed execution leaves one row in chaos.exec with its start (when the function
 * began) and its commit (stamped by a deferred trigger, which runs inside COMMIT): an execution that rolled back
 * leaves nothing, one that committed twice leaves two rows, and two rows of one job whose [started, committed]
 * overlap ran at the same time. No unique key on batch_id: a second execution must not block on the first one's
 * uncommitted row, or the test would hide the very overlap it looks for.
 */
export const LEDGER_SQL = `
CREATE SCHEMA IF NOT EXISTS chaos;
CREATE TABLE IF NOT EXISTS chaos.exec (
  exec_id     bigserial PRIMARY KEY,
  batch_id    integer NOT NULL,
  backend_pid integer NOT NULL DEFAULT pg_backend_pid(),
  started     timestamptz NOT NULL,
  committed   timestamptz
);
CREATE OR REPLACE FUNCTION chaos.stamp_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE chaos.exec SET committed = clock_timestamp() WHERE exec_id = NEW.exec_id;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS exec_committed ON chaos.exec;
CREATE CONSTRAINT TRIGGER exec_committed AFTER INSERT ON chaos.exec
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION chaos.stamp_commit();
CREATE OR REPLACE FUNCTION chaos.slow_action(job integer, ms integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
BEGIN
  IF ms > 0 THEN PERFORM pg_sleep(ms / 1000.0); END IF;
  INSERT INTO chaos.exec (batch_id, started) VALUES (job, t0);
  RETURN job;
END $$;
INSERT INTO xtbatch.action (action_name, action_schema, action_function, action_args)
VALUES ('${ERP_ACTION}', 'chaos', 'slow_action',
        '[{"param": "job", "type": "integer", "required": true}, {"param": "ms", "type": "integer", "required": true}]')
ON CONFLICT (action_name) DO NOTHING;
`;

export async function installLedger(pool: Pool): Promise<void> {
  await pool.query(LEDGER_SQL);
}

/** Queues `n` ERP actions that each take `ms` inside the database; one statement, so each appears with its parameters. */
export async function submitErp(pool: Pool, n: number, ms: number): Promise<number[]> {
  const { rows } = await pool.query<{ id: number }>(
    `WITH b AS (
       INSERT INTO xtbatch.batch (batch_action) SELECT $1 FROM generate_series(1, $2) RETURNING batch_id),
     p AS (
       INSERT INTO xtbatch.batchparam (batchparam_batch_id, batchparam_order, batchparam_name, batchparam_value, batchparam_type)
       SELECT b.batch_id, x.o, x.n, x.v, 'QString'
         FROM b, LATERAL (VALUES (1, 'job', b.batch_id::text), (2, 'ms', $3::text)) AS x(o, n, v))
     SELECT batch_id AS id FROM b ORDER BY batch_id`,
    [ERP_ACTION, n, ms],
  );
  return rows.map((r) => r.id);
}

/** Queues one mail per token through xTuple's function, each to the token's address; returns token → batch id. */
export async function submitMail(pool: Pool, tokens: string[]): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ token: string; id: number }>(
    `SELECT t.token,
            xtbatch.submitEmailToBatch('sender@example.test', t.address, NULL, 'chaos ' || t.token, 'body', NULL,
                                       NULL::timestamp, false, NULL, NULL) AS id
       FROM unnest($1::text[], $2::text[]) AS t(token, address)`,
    [tokens, tokens.map(tokenAddress)],
  );
  return new Map(rows.map((r) => [r.token, r.id]));
}

/** Every committed execution of the ERP action, by batch id (as text, the key the tallies use). */
export async function erpExecutions(pool: Pool): Promise<Map<string, Interval[]>> {
  const { rows } = await pool.query<{ batch_id: number; started: Date; committed: Date | null; backend_pid: number }>(
    'SELECT batch_id, started, committed, backend_pid FROM chaos.exec ORDER BY exec_id',
  );
  const out = new Map<string, Interval[]>();
  for (const r of rows) {
    if (!r.committed) throw new Error(`chaos.exec row of job ${r.batch_id} has no commit stamp: the deferred trigger did not run`);
    const list = out.get(String(r.batch_id)) ?? [];
    list.push({ start: r.started.getTime(), end: r.committed.getTime(), by: `backend ${r.backend_pid}` });
    out.set(String(r.batch_id), list);
  }
  return out;
}

export interface JobState {
  state: string;
  attempts: number;
  lockedBy: string | null;
  exitstatus: string | null;
  lastError: string | null;
}

export async function jobStates(pool: Pool, ids: number[]): Promise<Map<number, JobState>> {
  const { rows } = await pool.query<{ id: number; state: string; attempts: number; locked_by: string | null; exitstatus: string | null; last_error: string | null }>(
    `SELECT batch_id AS id, state, batch_attempts AS attempts, batch_locked_by AS locked_by, batch_exitstatus AS exitstatus,
            batch_last_error AS last_error
       FROM xtbatch.job WHERE batch_id = ANY ($1)`,
    [ids],
  );
  return new Map(rows.map((r) => [r.id, { state: r.state, attempts: r.attempts, lockedBy: r.locked_by, exitstatus: r.exitstatus, lastError: r.last_error }]));
}

/** How many of `ids` are done, and how many ended otherwise (failed, cancelled). */
export async function countFinished(pool: Pool, ids: number[]): Promise<{ done: number; failed: number }> {
  const { rows } = await pool.query<{ done: number; failed: number }>(
    `SELECT count(*) FILTER (WHERE state = 'done')::int AS done, count(*) FILTER (WHERE state IN ('failed', 'cancelled'))::int AS failed
       FROM xtbatch.job WHERE batch_id = ANY ($1)`,
    [ids],
  );
  return rows[0]!;
}

/** Backends running the ERP action's function right now (statement active inside it). */
export async function erpInProgress(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE pid <> pg_backend_pid() AND state = 'active'
        -- The daemon calls it inside xtbatch.xtconnect_run_actions (sql/0032): there, by what the backend waits on.
        AND (query ILIKE '%chaos%slow_action%' OR (query ILIKE '%xtconnect_run_actions%' AND wait_event = 'PgSleep'))`,
  );
  return rows[0]!.n;
}

/** Failed jobs with their messages, for assertion messages. */
export function describeNotDone(states: Map<number, JobState>): string[] {
  return [...states].filter(([, s]) => s.state !== 'done').map(([id, s]) => `job ${id}: ${s.state} (attempts ${s.attempts}) ${s.exitstatus ?? ''} ${s.lastError ?? ''}`.trim());
}
