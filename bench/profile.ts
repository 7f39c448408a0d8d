/**
 * Profile of xtconnect's hot statements, to explain the throughput figures:
 *
 *  1. the commit floor of this server (SELECT 1 against a one-row autocommit UPDATE);
 *  2. claimDue() at LIMIT 1/10/50/500 through the daemon's named statement, and its plan (EXPLAIN ANALYZE on a warm
 *     connection, rolled back);
 *  3. finishMany() in the situation the concurrency-50 run creates: statistics gathered while no job was running,
 *     then thousands of jobs claimed and not yet finished. Timed through the daemon's named statement (PostgreSQL
 *     switches a named statement to its generic plan after five executions), with the generic and the custom plan
 *     shown, then the same statement unnamed (a custom plan every time), then after a fresh ANALYZE;
 *  4. extendLeases() over as many ids as the daemon sends when the completer has a backlog.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { claimDue, extendLeases, finishMany, type Finish } from '../src/db/queries/batch';
import { benchPool, benchQuery, benchUrl, dropBenchDb, migrateXt, recreateBenchDb } from './lib/db';
import { instrumentPool } from './lib/count';
import { fmt, heading, mean, percentile, table } from './lib/util';

/** Enough rows that, while 16,000 are finished by the tests below, more than 20,000 stay claimed and unfinished. */
const ROWS = 40_000;
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

/** The SQL text a query function sends, without running it. */
async function captureText(fn: (p: pg.Pool) => Promise<unknown>): Promise<string> {
  let text = '';
  const fake = { query: async (q: { text: string }) => { text = q.text; return { rows: [], rowCount: 0 }; } } as unknown as pg.Pool;
  await fn(fake);
  return text;
}

/** A SQL literal for a parameter value (numbers, strings, nulls, arrays of them). */
function literal(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return `'{${v.map((x) => (x === null ? 'NULL' : typeof x === 'number' ? String(x) : `"${String(x).replace(/["\\]/g, '\\$&')}"`)).join(',')}}'`;
  return `'${String(v).replace(/'/g, "''")}'`;
}

/**
 * EXPLAIN (ANALYZE, BUFFERS) of a PREPAREd statement on one connection, the way the daemon runs it: 'generic' is
 * the plan PostgreSQL uses for a named statement once it stops re-planning; 'custom' is planned for these values.
 * Runs the statement once first (warm caches, plpgsql compiled), all inside a transaction that is rolled back.
 */
async function explain(text: string, types: string[], values: unknown[], mode: 'custom' | 'generic'): Promise<string[]> {
  const c = new pg.Client({ connectionString: benchUrl(), application_name: 'bench explain' });
  await c.connect();
  try {
    await c.query(`PREPARE s(${types.join(', ')}) AS ${text}`);
    await c.query('BEGIN');
    await c.query(`SET LOCAL plan_cache_mode = force_${mode}_plan`);
    const args = values.map(literal).join(', ');
    await c.query('SAVEPOINT warm');
    await c.query(`EXECUTE s(${args})`);
    await c.query('ROLLBACK TO SAVEPOINT warm');
    const { rows } = await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) EXECUTE s(${args})`);
    return rows.map((r) => r['QUERY PLAN']);
  } finally {
    await c.query('ROLLBACK').catch(() => undefined);
    await c.end();
  }
}

function done(ids: number[], attempt = 1): Finish[] {
  return ids.map((batchId) => ({ batchId, attempt, kind: 'done', message: null, delaySeconds: 0, result: null }));
}

const FINISH_TYPES = ['text', 'int[]', 'int[]', 'text[]', 'text[]', 'float8[]', 'jsonb[]'];
const CLAIM_TYPES = ['text', 'int', 'int', 'text[]', 'text[]', 'int[]'];
const finishValues = (ids: number[]) => [OWNER, ids, ids.map(() => 1), ids.map(() => 'done'), ids.map(() => null), ids.map(() => 0), ids.map(() => null)];

export async function runProfile(): Promise<void> {
  heading(`PROFILE of xtconnect's statements (${fmt(ROWS)} jobs)`);
  await recreateBenchDb();
  await migrateXt();
  await benchQuery(`INSERT INTO xtbatch.batch (batch_action) SELECT 'Noop' FROM generate_series(1, $1::int)`, [ROWS]);
  await benchQuery('ANALYZE xtbatch.batch'); // as in the throughput runs: statistics taken while nothing runs
  const pool = benchPool('xtconnect bench profile', 2);
  const inst = instrumentPool(pool);
  try {
    // 1. commit floor
    await pool.query('CREATE TABLE bench_commit (id int PRIMARY KEY, n int)');
    await pool.query('INSERT INTO bench_commit VALUES (1, 0)');
    console.log(`SELECT 1 round trip:                        ${summary(await timeIt(200, () => pool.query('SELECT 1')))}`);
    console.log(`one-row UPDATE, autocommit (WAL flush):     ${summary(await timeIt(200, () => pool.query('UPDATE bench_commit SET n = n + 1 WHERE id = 1')))}`);

    // 2. claims
    console.log(`\n2. claimDue() through the named statement 'xtconnect_claim' (12 claims per size):`);
    const claimed: number[] = [];
    const claimRows: string[][] = [];
    for (const limit of [1, 10, 50, 500]) {
      const times = await timeIt(12, async () => claimed.push(...(await claimDue(pool, OWNER, limit, 60, [], [])).map((r) => r.batch_id)));
      claimRows.push([String(limit), summary(times), fmt(mean(times) / limit, 3)]);
    }
    console.log(table(['LIMIT', 'time per claim', 'ms per job'], claimRows));
    const claimSql = inst.lastClaim!;
    const claimValues = [...claimSql.values];
    claimValues[1] = 10;
    // The generic plan of the claim costs far more than its custom plans, so PostgreSQL keeps custom plans for it.
    console.log(`\nEXPLAIN ANALYZE claim LIMIT 10 (custom plan, as PostgreSQL keeps for this statement; warm connection, rolled back):`);
    for (const l of await explain(claimSql.text, CLAIM_TYPES, claimValues, 'custom')) console.log('  ' + l);
    const enabled = await timeIt(50, () => pool.query('SELECT xtbatch.enabled()'));
    console.log(`SELECT xtbatch.enabled() alone (the claim's InitPlan): ${summary(enabled)}`);

    // 3. finishes with many claimed-but-unwritten jobs and statistics from before they were claimed
    for (;;) {
      const rows = await claimDue(pool, OWNER, 1000, 60, [], []);
      if (rows.length === 0) break;
      claimed.push(...rows.map((r) => r.batch_id));
    }
    console.log(`\n3. finishMany() with ${fmt(claimed.length)} jobs claimed and unfinished; statistics from before any was claimed:`);
    let next = 0;
    const take = (n: number) => {
      const ids = claimed.slice(next, next + n);
      next += n;
      return ids;
    };
    const finishText = await captureText((p) => finishMany(p, OWNER, done([1])));
    const rows3: string[][] = [];
    const running = async () => (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM xtbatch.batch WHERE batch_started IS NOT NULL AND batch_completed IS NULL`)).rows[0]!.n;
    const named1000 = await timeIt(8, () => finishMany(pool, OWNER, done(take(1000))));
    rows3.push(["named 'xtconnect_finish' (as in src), 1000 outcomes", named1000.map((t) => fmt(t, 0)).join(' ')]);
    console.log(`\n(${fmt(await running())} jobs still claimed and unfinished)`);
    console.log(`EXPLAIN ANALYZE finish of 1000 outcomes, GENERIC plan (what the named statement uses from its 6th execution):`);
    for (const l of await explain(finishText, FINISH_TYPES, finishValues(claimed.slice(next, next + 1000)), 'generic')) console.log('  ' + l);
    console.log(`\nEXPLAIN ANALYZE finish of 1000 outcomes, CUSTOM plan:`);
    for (const l of await explain(finishText, FINISH_TYPES, finishValues(claimed.slice(next, next + 1000)), 'custom')) console.log('  ' + l);
    const unnamed1000 = await timeIt(4, () => pool.query(finishText, finishValues(take(1000))));
    rows3.push(['same SQL unnamed (custom plan each time), 1000 outcomes', unnamed1000.map((t) => fmt(t, 0)).join(' ')]);
    const unnamed1 = await timeIt(4, () => pool.query(finishText, finishValues(take(1))));
    rows3.push(['same SQL unnamed, 1 outcome', unnamed1.map((t) => fmt(t, 1)).join(' ')]);
    await pool.query('ANALYZE xtbatch.batch');
    const fresh1000 = await timeIt(4, () => pool.query({ name: 'fresh_finish', text: finishText, values: finishValues(take(1000)) }));
    rows3.push(['named, after a fresh ANALYZE, 1000 outcomes (first 4 executions)', fresh1000.map((t) => fmt(t, 0)).join(' ')]);

    // 4. leases
    rows3.push(['(jobs claimed and unfinished at the end)', fmt(await running())]);
    console.log('');
    console.log(table(['finish statement', 'ms per execution, in order'], rows3));
    const held = claimed.slice(next);
    console.log(`\n4. extendLeases() (the daemon renews running jobs AND every outcome still queued in the completer):`);
    for (const n of [10, 1000, 10_000].filter((n) => n <= held.length)) {
      console.log(`  ${String(n).padStart(6)} ids: ${summary(await timeIt(3, () => extendLeases(pool, OWNER, held.slice(0, n), 60)))}`);
    }
  } finally {
    await pool.end();
  }
}

if (require.main === module) {
  runProfile()
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    })
    .finally(() => dropBenchDb().catch(() => undefined));
}
