import type pg from 'pg';
import type { BatchRow } from '../../src/db/queries/batch';

/** One statement of the group function's calls: per job, its arguments as text, in the statement's order. */
export interface GroupCall {
  sql: string;
  batchSql: string;
  fn: string;
  args: (job: BatchRow) => string[];
}

/**
 * Runs `jobs` (claimed by `owner`) through xtbatch.xtconnect_run_actions in groups of three on `client`, as the
 * daemon does, and says for each group how the server planned the function's fence and its "done" write: "for these
 * values" (a plan made for the group's ids, which it carries as a literal array) or "generic" (a parameter). The
 * plans are the server's own record (auto_explain, verbose, sent to the session as notices; the session must be a
 * superuser's to LOAD it). Each plan must reach the rows by the table's primary key. Every job must end done.
 */
export async function groupPlanKinds(client: pg.Client, owner: string, jobs: BatchRow[], call: GroupCall): Promise<string[][]> {
  const { rows: [pk] } = await client.query<{ name: string }>(
    `SELECT i.indexrelid::regclass::text AS name FROM pg_index i WHERE i.indrelid = 'xtbatch.batch'::regclass AND i.indisprimary`);
  const byPrimaryKey = `Index Scan using ${pk!.name.replace(/^xtbatch\./, '')} on xtbatch.batch b`;
  const plans: string[] = [];
  const onNotice = (n: { message?: string }) => plans.push(n.message ?? '');
  client.on('notice', onNotice);
  try {
    await client.query(`LOAD 'auto_explain'`);
    await client.query(`SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on;
                        SET auto_explain.log_verbose = on; SET client_min_messages = log`);
    const byRun: string[][] = [];
    for (let r = 0; r * 3 < jobs.length; r++) {
      const g = jobs.slice(r * 3, r * 3 + 3);
      plans.length = 0;
      await client.query('BEGIN');
      const { rows } = await client.query(
        'SELECT * FROM xtbatch.xtconnect_run_actions($1, NULL, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
        [owner, g.map((j) => j.batch_id), g.map((j) => j.batch_attempts), g.map((j) => j.lease_token), g.map(() => 1),
          JSON.stringify(g.map(call.args)), [call.sql], [call.fn], [false], [call.batchSql]],
      );
      await client.query('COMMIT');
      if (rows.some((x) => x.outcome !== 'done')) throw new Error(`group ${r + 1}: ${JSON.stringify(rows)}`);
      const ids = `'{${g.map((j) => j.batch_id).join(',')}}'::integer[]`;
      const fence = plans.find((p) => p.includes('FOR UPDATE OF b) l'));
      const done = plans.find((p) => p.includes('Update on xtbatch.batch b'));
      for (const [what, p] of [['fence', fence], ['"done" write', done]] as const) {
        if (!p?.includes(byPrimaryKey)) throw new Error(`group ${r + 1}: the ${what} does not use ${byPrimaryKey}:\n${p ?? '(no plan)'}`);
      }
      byRun.push([fence!, done!].map((p) => (p.includes(ids) ? 'for these values' : 'generic')));
    }
    return byRun;
  } finally {
    client.off('notice', onNotice);
    await client.query('RESET client_min_messages').catch(() => undefined);
  }
}

/** What groupPlanKinds gives for seven groups once the plans are kept: five trial runs, then the generic plans. */
export const PLANNED_ONCE = [...Array(5).fill(['for these values', 'for these values']), ['generic', 'generic'], ['generic', 'generic']];
