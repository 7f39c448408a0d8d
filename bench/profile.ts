/**
 * Profile of xtconnect's hot statements, to explain the throughput figures: what one claim costs at different
 * sizes, what one batched finish costs at different batch sizes (through the real named prepared statements, so
 * PostgreSQL's plan cache switches to a generic plan after five executions exactly as in the daemon), what the
 * lease renewal costs, the plans (EXPLAIN ANALYZE, custom and generic) and the commit floor of this server.
 *
 * Everything runs on a fresh bench database with 20,000 waiting jobs; EXPLAIN ANALYZE runs inside a transaction
 * that is rolled back.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { claimDue, extendLeases, finishMany, type Finish } from '../src/db/queries/batch';
import { benchPool, benchQuery, benchUrl, dropBenchDb, migrateXt, recreateBenchDb } from './lib/db';
import { instrumentPool } from './lib/count';
import { fmt, heading, mean, percentile, table } from './lib/util';

const ROWS = 20_000;
const OWNER = 'bench-profile';

async function timeIt(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out;
}

const summary = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `mean ${fmt(mean(xs), 2)} ms, p50 ${fmt(percentile(s, 50), 2)}, max ${fmt(s[s.length - 1]!, 2)}`;
};

/** EXPLAIN (ANALYZE, BUFFERS) of `text` with `values`, custom or generic plan, rolled back. Returns the plan lines. */
async function explain(text: string, values: unknown[], mode: 'custom' | 'generic'): Promise<string[]> {
  const c = new pg.Client({ connectionString: benchUrl(), application_name: 'bench explain' });
  await c.connect();
  try {
    await c.query('BEGIN');
    await c.query(`SET LOCAL plan_cache_mode = force_${mode}_plan`);
    // A named statement is planned like the daemon's: force_generic_plan makes it use the generic plan at once.
    const { rows } = await c.query<{ 'QUERY PLAN': string }>({ name: `explain_${mode}_${Math.random()}`, text: `EXPLAIN (ANALYZE, BUFFERS, COSTS ON) ${text}`, values });
    return rows.map((r) => r['QUERY PLAN']);
  } finally {
    await c.query('ROLLBACK').catch(() => undefined);
    await c.end();
  }
}

function done(ids: number[], attempt = 1): Finish[] {
  return ids.map((batchId) => ({ batchId, attempt, kind: 'done', message: null, delaySeconds: 0, result: null }));
}

export async function runProfile(): Promise<void> {
  heading(`PROFILE of xtconnect's statements on ${fmt(ROWS)} waiting jobs`);
  await recreateBenchDb();
  await migrateXt();
  await benchQuery(`INSERT INTO xtbatch.batch (batch_action) SELECT 'Noop' FROM generate_series(1, $1::int)`, [ROWS]);
  await benchQuery('ANALYZE xtbatch.batch');
  const pool = benchPool('xtconnect bench profile', 4);
  const inst = instrumentPool(pool);
  try {
    // --- commit floor ---------------------------------------------------------------------------------------
    await pool.query('CREATE TABLE bench_commit (id int PRIMARY KEY, n int)');
    await pool.query('INSERT INTO bench_commit VALUES (1, 0)');
    const select1 = await timeIt(200, () => pool.query('SELECT 1'));
    const commit = await timeIt(200, () => pool.query('UPDATE bench_commit SET n = n + 1 WHERE id = 1'));
    console.log(`round trip of SELECT 1 (no commit to flush):    ${summary(select1)}`);
    console.log(`one-row UPDATE in autocommit (WAL flush):       ${summary(commit)}`);

    // --- claims ----------------------------------------------------------------------------------------------
    console.log('\nclaimDue() through the daemon\'s named statement (first 5 custom plans, then PostgreSQL may pick a generic one):');
    const claimRows: string[][] = [];
    const claimed: number[] = [];
    for (const limit of [1, 10, 50, 500]) {
      const times = await timeIt(12, async () => {
        const rows = await claimDue(pool, OWNER, limit, 60, [], []);
        claimed.push(...rows.map((r) => r.batch_id));
      });
      claimRows.push([String(limit), summary(times), fmt(mean(times) / limit, 3)]);
    }
    console.log(table(['claim LIMIT', 'time per claim (12 claims)', 'ms per job'], claimRows));
    const claimSql = inst.lastClaim!;
    for (const mode of ['custom', 'generic'] as const) {
      const values = [...claimSql.values];
      values[1] = 10;
      console.log(`\nEXPLAIN ANALYZE claim LIMIT 10, ${mode} plan:`);
      for (const l of await explain(claimSql.text, values, mode)) console.log('  ' + l);
    }

    // --- finishes ---------------------------------------------------------------------------------------------
    console.log('\nfinishMany() through the daemon\'s named statement, on jobs claimed above (attempt 1):');
    // Claim enough rows for every batch below.
    while (claimed.length < 1 * 8 + 10 * 8 + 100 * 8 + 1000 * 8 + 2000) {
      const rows = await claimDue(pool, OWNER, 500, 60, [], []);
      if (rows.length === 0) break;
      claimed.push(...rows.map((r) => r.batch_id));
    }
    let next = 0;
    const finishRows: string[][] = [];
    for (const size of [1, 10, 100, 1000]) {
      const times = await timeIt(8, async () => {
        const ids = claimed.slice(next, next + size);
        next += size;
        const written = await finishMany(pool, OWNER, done(ids));
        if (written.size !== ids.length) throw new Error(`finish wrote ${written.size} of ${ids.length}`);
      });
      finishRows.push([String(size), times.map((t) => fmt(t, 1)).join(' '), fmt(mean(times.slice(-3)) / size, 3)]);
    }
    console.log(table(['batch size', 'ms per statement, executions 1..8 (6th+ may use the generic plan)', 'ms per outcome (last 3)'], finishRows));
    const f1000 = claimed.slice(next, next + 1000);
    const finishValues = [OWNER, f1000, f1000.map(() => 1), f1000.map(() => 'done'), f1000.map(() => null), f1000.map(() => 0), f1000.map(() => null)];
    const finishText = ((await captureText((p) => finishMany(p, OWNER, done([1])))) as string);
    for (const mode of ['custom', 'generic'] as const) {
      console.log(`\nEXPLAIN ANALYZE finish of 1000 outcomes, ${mode} plan:`);
      for (const l of await explain(finishText, finishValues, mode)) console.log('  ' + l);
    }

    // --- leases -----------------------------------------------------------------------------------------------
    const held = claimed.slice(next);
    console.log(`\nextendLeases() over ${fmt(held.length)} held jobs (the daemon renews running jobs AND every outcome still queued in the completer):`);
    for (const n of [10, 1000, held.length]) {
      const times = await timeIt(3, () => extendLeases(pool, OWNER, held.slice(0, n), 60));
      console.log(`  ${String(n).padStart(6)} ids: ${summary(times)}`);
    }
  } finally {
    await pool.end();
  }
}

/** The SQL text a query function sends, without running it. */
async function captureText(fn: (p: pg.Pool) => Promise<unknown>): Promise<string> {
  let text = '';
  const fake = { query: async (q: { text: string }) => { text = q.text; return { rows: [], rowCount: 0 }; } } as unknown as pg.Pool;
  await fn(fake);
  return text;
}

if (require.main === module) {
  runProfile()
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    })
    .finally(() => dropBenchDb().catch(() => undefined));
}
