import fs from 'node:fs';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { killAll, removeTempDirs, runXt, tempDir, type RunResult } from '../support/proc';

// The administrator's commands against a real database, each one a separate run of the built binary, in the
// order someone setting up xtconnect would use them. Tests in this file build on each other.

const SQL_DIR = path.resolve(__dirname, '..', '..', 'sql');

let db: TestDatabase;
let emptyConfig: string;

beforeAll(async () => {
  db = await createTestDatabase({ empty: true });
  emptyConfig = path.join(tempDir(), 'empty.yaml');
  fs.writeFileSync(emptyConfig, '');
});
afterEach(async () => {
  await killAll();
});
afterAll(async () => {
  await killAll();
  await db.drop();
  removeTempDirs();
});

/** xtconnect with the database given by --database-url. */
function xt(...args: string[]): Promise<RunResult> {
  return runXt(['--config', emptyConfig, '--database-url', db.url, ...args]);
}

/** xtconnect with the database given by DATABASE_URL. */
function xtEnv(...args: string[]): Promise<RunResult> {
  return runXt(['--config', emptyConfig, ...args], { env: { DATABASE_URL: db.url } });
}

function ok(r: RunResult): string {
  if (r.code !== 0) throw new Error(`xtconnect ${r.proc.args.join(' ')} exited ${r.code}\n${r.proc.describe()}`);
  return r.stdout;
}

/** Field lines of `show`: "name   value". */
function fields(out: string): Record<string, string> {
  const f: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^(\S+)\s+(.*)$/.exec(line);
    if (m && !line.startsWith(' ')) f[m[1]!] = m[2]!;
  }
  return f;
}

async function jobRow(id: number): Promise<Record<string, unknown>> {
  return (await db.pool.query('SELECT * FROM xtbatch.job WHERE batch_id = $1', [id])).rows[0] as Record<string, unknown>;
}

const migrations = fs.readdirSync(SQL_DIR).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort().map((f) => f.replace(/\.sql$/, ''));
let id = 0;

describe('the CLI round trip', () => {
  it('migrate --dry-run on an empty database lists every migration and changes nothing', async () => {
    expect(migrations.slice(0, 3)).toEqual(['0001_install_xtbatch', '0002_settings_and_functions', '0003_job_view']);
    const out = ok(await xt('migrate', '--dry-run'));
    expect(out.trim().split('\n')).toEqual(migrations.map((m) => `would apply ${m}`));
    const schema = await db.pool.query(`SELECT to_regnamespace('xtbatch') AS s`);
    expect(schema.rows[0].s).toBeNull();
  });

  it('migrate applies them, and a second run has nothing to do', async () => {
    const out = ok(await xtEnv('migrate'));
    expect(out.trim().split('\n')).toEqual(migrations.map((m) => `applied ${m}`));
    const applied = await db.pool.query<{ n: string }>('SELECT migration_name AS n FROM xtbatch.xtconnect_migration ORDER BY migration_version');
    expect(applied.rows.map((r) => r.n)).toEqual(migrations);

    expect(ok(await xt('migrate'))).toBe('schema is up to date; nothing applied\n');
    expect(ok(await xt('migrate', '--dry-run'))).toBe('schema is up to date; nothing to apply\n');
  });

  it('submit email prints the new job ID', async () => {
    const out = ok(await xt('submit', 'email', '--to', 'a@b.c', '--subject', 's', '--body', 'b', '--from', 'f@x.y'));
    expect(out).toMatch(/^\d+\n$/);
    id = Number(out.trim());
    expect(await jobRow(id)).toMatchObject({
      batch_action: 'Email', batch_email: 'a@b.c', batch_subject: 's', batch_responsebody: 'b', batch_fromemail: 'f@x.y',
      batch_completed: null, batch_started: null, state: 'scheduled',
    });
  });

  it('submit email through DATABASE_URL, scheduled later with --at, with cc and html', async () => {
    const out = ok(await xtEnv('submit', 'email', '--to', 'x@y.z', '--cc', 'c@d.e', '--subject', 'later', '--html', '--body', '<p>hi</p>',
      '--at', '2099-12-01 08:00'));
    const later = Number(out.trim());
    expect(later).toBeGreaterThan(id);
    expect(await jobRow(later)).toMatchObject({ batch_cc: 'c@d.e', batch_emailhtml: true, batch_scheduled: '2099-12-01 08:00:00', state: 'scheduled' });
  });

  it('list --state scheduled shows it, as a table and as JSON', async () => {
    const out = ok(await xt('list', '--state', 'scheduled'));
    const lines = out.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+ACTION\s+STATE\s+SCHEDULED\s+TRIES\s+TO\s+STATUS$/);
    const mine = lines.find((l) => l.startsWith(`${id} `));
    expect(mine).toMatch(new RegExp(`^${id}\\s+Email\\s+scheduled\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\s+0\\s+a@b\\.c`));

    const json = JSON.parse(ok(await xt('list', '--state', 'scheduled', '--json'))) as Array<{ batch_id: number; state: string }>;
    expect(json.map((j) => j.batch_id)).toContain(id);
    expect(json.every((j) => j.state === 'scheduled')).toBe(true);

    expect(ok(await xt('list', '--state', 'done', '--json'))).toBe('[]\n');
    const limited = JSON.parse(ok(await xt('list', '--limit', '1', '--json'))) as unknown[];
    expect(limited).toHaveLength(1);
  });

  it('show ID prints its fields', async () => {
    const f = fields(ok(await xt('show', String(id))));
    expect(f).toMatchObject({ batch_id: String(id), batch_action: 'Email', batch_email: 'a@b.c', batch_subject: 's',
      batch_fromemail: 'f@x.y', batch_responsebody: 'b', batch_attempts: '0', state: 'scheduled' });
    const json = JSON.parse(ok(await xt('show', String(id), '--json'))) as { job: Record<string, unknown>; params: unknown[] };
    expect(json.job).toMatchObject({ batch_id: id, state: 'scheduled' });
    expect(json.params).toEqual([]);
  });

  it('show of a job that does not exist says so and exits 1', async () => {
    const r = await xt('show', '999999');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('no job 999999\n');
  });

  it('cancel ID cancels it; cancelling again changes nothing', async () => {
    expect(ok(await xt('cancel', String(id)))).toBe(`job ${id} cancelled\n`);
    const row = await jobRow(id);
    expect(row.state).toBe('cancelled');
    expect(String(row.batch_exitstatus)).toMatch(/^Cancelled by postgres at /);
    expect(fields(ok(await xt('show', String(id)))).state).toBe('cancelled');
    const listed = JSON.parse(ok(await xt('list', '--state', 'cancelled', '--json'))) as Array<{ batch_id: number }>;
    expect(listed.map((j) => j.batch_id)).toEqual([id]);

    const again = await xt('cancel', String(id));
    expect(again.code).toBe(1);
    expect(again.stdout).toBe(`job ${id} had already finished; nothing to cancel\n`);
    const none = await xt('cancel', '999999');
    expect(none.code).toBe(1);
    expect(none.stdout).toBe('no job 999999\n');
  });

  it('retry ID makes it due again with a fresh attempt count', async () => {
    await db.pool.query('UPDATE xtbatch.batch SET batch_attempts = 3 WHERE batch_id = $1', [id]);
    expect(ok(await xt('retry', String(id)))).toBe(`job ${id} is due again now\n`);
    expect(await jobRow(id)).toMatchObject({ state: 'scheduled', batch_attempts: 0, batch_completed: null, batch_exitstatus: null });
    const r = await xt('retry', '999999');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('no job 999999\n');
  });

  it('config get prints every setting, or one', async () => {
    const all = ok(await xt('config', 'get'));
    const names = all.trim().split('\n').map((l) => l.split(/\s+/)[0]);
    expect(names).toEqual(['EnableBatchManager', 'DefaultBatchFromEmailAddress', 'BatchManagerPurgeDays', 'EmailSyncCreateContacts', 'ExcludeContactsMatching']);
    expect(all).toMatch(/^EnableBatchManager\s+true$/m);
    expect(ok(await xt('config', 'get', 'EnableBatchManager'))).toBe('true\n');
    expect(JSON.parse(ok(await xt('config', 'get', '--json')))).toMatchObject({ EnableBatchManager: true, ExcludeContactsMatching: [] });
  });

  it('config set DefaultBatchFromEmailAddress stores it where xTuple and the daemon read it', async () => {
    expect(ok(await xt('config', 'set', 'DefaultBatchFromEmailAddress', 'x@y.z'))).toBe('DefaultBatchFromEmailAddress = x@y.z\n');
    expect(ok(await xt('config', 'get', 'DefaultBatchFromEmailAddress'))).toBe('x@y.z\n');
    const s = await db.pool.query(`SELECT xtbatch.getsetting('DefaultBatchFromEmailAddress') AS v`);
    expect(s.rows[0].v).toBe('x@y.z');
  });

  it('config set EnableBatchManager off refuses new jobs, with the hint; on again accepts them', async () => {
    expect(ok(await xt('config', 'set', 'EnableBatchManager', 'off'))).toBe('EnableBatchManager = f\n');
    const refused = await xt('submit', 'email', '--to', 'a@b.c', '--subject', 'while off');
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain('xtconnect: xTuple Connect is not enabled, so no job can be submitted');
    expect(refused.stderr).toContain('hint: Turn on EnableBatchManager');
    expect(ok(await xt('config', 'set', 'EnableBatchManager', 'yes'))).toBe('EnableBatchManager = t\n');
    expect(ok(await xt('submit', 'email', '--to', 'a@b.c', '--subject', 'on again'))).toMatch(/^\d+\n$/);
  });

  it("config exclude add '*@example.com', list, remove", async () => {
    expect(ok(await xt('config', 'exclude', 'add', '*@Example.com'))).toBe('added *@example.com\n');
    expect(ok(await xt('config', 'exclude', 'add', '*@example.com'))).toBe('*@example.com was already in the list\n');
    expect(ok(await xt('config', 'exclude', 'add', 'noreply@*'))).toBe('added noreply@*\n');
    expect(ok(await xt('config', 'exclude', 'list'))).toBe('*@example.com\nnoreply@*\n');
    expect(ok(await xt('config', 'get', 'ExcludeContactsMatching'))).toBe('*@example.com\nnoreply@*\n');

    expect(ok(await xt('config', 'exclude', 'remove', 'noreply@*'))).toBe('removed noreply@*\n');
    const again = await xt('config', 'exclude', 'remove', 'noreply@*');
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('noreply@* is not in the list\n');
    expect(ok(await xt('config', 'exclude', 'list'))).toBe('*@example.com\n');
  });

  it('purge --days 1 deletes jobs finished more than a day ago, and only those', async () => {
    const old = await db.pool.query<{ batch_id: number }>(
      `INSERT INTO xtbatch.batch (batch_action, batch_started, batch_completed, batch_exitstatus)
       VALUES ('Email', localtimestamp - interval '3 days', localtimestamp - interval '3 days', ''),
              ('Email', localtimestamp - interval '2 days', localtimestamp - interval '2 days', 'failed')
       RETURNING batch_id`,
    );
    const recent = await db.pool.query<{ batch_id: number }>(
      `INSERT INTO xtbatch.batch (batch_action, batch_started, batch_completed, batch_exitstatus)
       VALUES ('Email', localtimestamp - interval '1 hour', localtimestamp - interval '1 hour', '') RETURNING batch_id`,
    );
    expect(ok(await xt('purge', '--days', '1'))).toBe('purged 2 job(s) finished more than 1 day(s) ago\n');
    const left = await db.pool.query<{ batch_id: number }>('SELECT batch_id FROM xtbatch.batch WHERE batch_id = ANY ($1)',
      [[...old.rows, ...recent.rows].map((r) => r.batch_id)]);
    expect(left.rows.map((r) => r.batch_id)).toEqual([recent.rows[0]!.batch_id]);
    // The unfinished job is untouched.
    expect((await jobRow(id)).state).toBe('scheduled');
  });

  it('purge without --days uses BatchManagerPurgeDays, and does nothing when it is 0 (never)', async () => {
    expect(ok(await xt('config', 'set', 'BatchManagerPurgeDays', '0'))).toBe('BatchManagerPurgeDays = 0\n');
    expect(ok(await xt('purge'))).toBe('BatchManagerPurgeDays is 0 (never purge) and no --days given: nothing purged\n');
  });

  it('--help of every command exits 0 with its usage on stdout', async () => {
    const commands = [
      [], ['start'], ['migrate'], ['status'], ['submit'], ['submit', 'email'], ['submit', 'action'], ['submit', 'report'],
      ['list'], ['show'], ['retry'], ['cancel'], ['purge'], ['config'], ['config', 'get'], ['config', 'set'], ['config', 'exclude'],
    ];
    // Four at a time: each is a separate process, and they do not depend on each other.
    const results: Array<{ words: string[]; code: number | null; usage: boolean; stderr: string }> = [];
    for (let i = 0; i < commands.length; i += 4) {
      results.push(...(await Promise.all(commands.slice(i, i + 4).map(async (words) => {
        const r = await runXt([...words, '--help']);
        const usage = r.stdout.startsWith(`Usage: xtconnect${words.length ? ' ' + words.join(' ') : ''} `);
        return { words, code: r.code, usage, stderr: r.stderr };
      }))));
    }
    expect(results).toEqual(commands.map((words) => ({ words, code: 0, usage: true, stderr: '' })));
  });

  it('--version prints the version and exits 0', async () => {
    const r = await runXt(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d+\.\d+\.\d+/);
  });
});
