/**
 * The SQL ceiling of xtconnect's no-op throughput: the daemon's own claim and finish statements (CLAIM_ANY_SQL and
 * FINISH_SQL from src/db/queries/batch.ts, verbatim) driven by pgbench with no client work at all, rows kept as
 * the daemon keeps them. One pgbench transaction claims BENCH_CEILING_BATCH due jobs (default 50) and writes their
 * outcomes in one finish statement, as the daemon's claim and completer do (each autocommit). Best of 1, 2 and 4
 * pgbench clients, each on a fresh database with the same jobs.
 *
 * The design 'one-version' is not the daemon's: it measures what a design writing one row version per job could
 * reach at most (docs/performance.md). It locks the due rows (FOR UPDATE SKIP LOCKED, no new row version), and the
 * same transaction marks them done, so a job is never seen running. Its finish is a bare UPDATE, without the
 * daemon's lease guard, recurrence and notices, so it is an upper bound of such a design.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLAIM_ANY_SQL, DUE_WHERE, FINISH_SQL } from '../../src/db/queries/batch';
import { benchQuery, benchUrl, migrateXt, recreateBenchDb } from './db';

export interface Ceiling {
  clients: number;
  jobsPerSec: number;
  finished: number;
}

const BATCH = Number(process.env.BENCH_CEILING_BATCH ?? 50);

/** 'kept': the daemon's statements (two row versions a job: claim, finish); 'one-version': see above. */
export type CeilingDesign = 'kept' | 'one-version';

/** pgbench of the newest PostgreSQL installed (it ships with the server: /usr/lib/postgresql/<v>/bin). */
export function pgbenchPath(): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const p = path.join(root, v, 'bin', 'pgbench');
    if (fs.existsSync(p)) return p;
  }
  return 'pgbench';
}

/** $1..$9 of a statement as pgbench variables (-M extended sends them as parameters again). */
function withVars(sql: string, names: string[]): string {
  let out = sql;
  for (let i = names.length; i >= 1; i--) out = out.split(`$${i}`).join(`:${names[i - 1]}`);
  // pgbench ends a command at the end of the line unless it ends with a backslash; \gset must follow the last line.
  return out.replace(/--[^\n]*/g, '').split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
}

function oneVersionScript(): string {
  const due = withVars(DUE_WHERE, []);
  return [
    'BEGIN;',
    `SELECT coalesce(array_agg(batch_id), '{}')::text AS ids FROM (SELECT batch_id FROM xtbatch.batch ${due} ` +
      `ORDER BY batch_priority, batch_scheduled, batch_id LIMIT :lim FOR UPDATE SKIP LOCKED) due`,
    '\\gset',
    `UPDATE xtbatch.batch SET batch_started = localtimestamp, batch_completed = localtimestamp, batch_attempts = batch_attempts + 1, ` +
      `batch_exitstatus = '' WHERE batch_id = ANY (:ids::int[]);`,
    'COMMIT;',
    '',
  ].join('\n');
}

function script(design: CeilingDesign): string {
  if (design === 'one-version') return oneVersionScript();
  const claim = withVars(CLAIM_ANY_SQL, ['owner', 'lim', 'lease', 'token']);
  const finish = withVars(FINISH_SQL, ['owner', 'ids', 'att', 'kinds', 'msgs', 'delays', 'results', 'tokens', 'live']);
  return [
    '\\set token random(1, 9000000000000000)',
    `WITH c AS (${claim}) SELECT coalesce(array_agg(batch_id), '{}')::text AS ids, coalesce(array_agg(batch_attempts), '{}')::text AS att, ` +
      `coalesce(array_agg('done'::text), '{}')::text AS kinds, coalesce(array_agg(NULL::text), '{}')::text AS msgs, ` +
      `coalesce(array_agg(0::float8), '{}')::text AS delays, coalesce(array_agg(NULL::jsonb), '{}')::text AS results, ` +
      `coalesce(array_agg(lease_token), '{}')::text AS tokens FROM c`,
    '\\gset',
    `${finish};`,
    '',
  ].join('\n');
}

/** Runs the ceiling for `jobs` jobs at 1, 2 and 4 clients; each on a fresh database. */
export async function measureCeiling(jobs: number, clientCounts = [1, 2, 4], design: CeilingDesign = 'kept'): Promise<Ceiling[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xtconnect-ceiling-'));
  const file = path.join(dir, 'claim-finish.sql');
  fs.writeFileSync(file, script(design));
  const out: Ceiling[] = [];
  try {
    for (const clients of clientCounts) {
      await recreateBenchDb();
      await migrateXt();
      await benchQuery(`INSERT INTO xtbatch.batch (batch_action) SELECT 'Noop' FROM generate_series(1, $1::int)`, [jobs]);
      // BENCH_CEILING_SETUP_SQL: an experiment, statements run on the migrated database before the jobs are claimed.
      if (process.env.BENCH_CEILING_SETUP_SQL) await benchQuery(process.env.BENCH_CEILING_SETUP_SQL);
      await benchQuery(`ANALYZE xtbatch.batch`);
      const perClient = Math.ceil(jobs / BATCH / clients);
      const u = new URL(benchUrl('xtconnect bench ceiling'));
      // prepared, as the daemon sends its claim and finish (named statements, planned once per connection).
      const args = ['-n', '-M', 'prepared', '-f', file, '-c', String(clients), '-j', String(clients), '-t', String(perClient),
        '-D', 'owner=bench:ceiling', '-D', `lim=${BATCH}`, '-D', 'lease=60',
        '-D', 'live=false', '-h', u.hostname, '-p', u.port || '5432', '-U', decodeURIComponent(u.username) || 'postgres', u.pathname.slice(1)];
      const t0 = process.hrtime.bigint();
      const text = execFileSync(pgbenchPath(), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PGAPPNAME: 'xtconnect bench ceiling' } });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const failed = /number of failed transactions: (\d+)/.exec(text)?.[1];
      if (failed && failed !== '0') throw new Error(`pgbench: ${failed} failed transactions\n${text}`);
      const rows = await benchQuery<{ n: number }>(`SELECT count(*)::int AS n FROM xtbatch.batch WHERE batch_completed IS NOT NULL AND batch_exitstatus = ''`);
      // pgbench's own tps leaves out its connection set-up; jobs per second by the transactions' time alone.
      const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(text)?.[1] ?? NaN);
      const finished = rows[0]!.n;
      const txs = clients * perClient;
      const jobsPerSec = Number.isFinite(tps) ? (tps * finished) / txs : finished / (ms / 1000);
      out.push({ clients, jobsPerSec, finished });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
