import { PassThrough } from 'node:stream';
import { statusCommand, type StatusOptions } from '../../src/cli/commands/status';
import type { CommandContext } from '../../src/cli/context';
import { silentLogger } from '../../src/log';
import { testConfig } from '../support/config';
import { startDaemon } from '../support/daemon';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { freePort } from '../support/smtp';
import { waitFor } from '../support/wait';

// `xtconnect status` is what Nagios, Icinga or a systemd timer runs: one line, perf data after '|', and the exit
// code is the verdict (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN). Run through statusCommand, the function the
// command line calls, against a real database and real daemons.

let db: TestDatabase;
const stops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  await Promise.all(stops.splice(0).map((s) => s()));
  await db.pool.query('TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE');
  await db.pool.query(`DELETE FROM xtbatch.xtconnect_migration WHERE migration_version >= 9000`);
  await db.pool.query(`SELECT xtbatch.setsetting('EnableBatchManager', 't')`);
});
afterAll(async () => {
  await db.drop();
});

function ctxFor(url: string): CommandContext {
  return { cfg: testConfig(url), log: silentLogger() };
}

async function status(opts: Partial<StatusOptions> = {}, url = db.url): Promise<{ code: number; stdout: string }> {
  const out = new PassThrough();
  let stdout = '';
  out.on('data', (c: Buffer) => (stdout += c.toString()));
  const code = await statusCommand(ctxFor(url), { json: false, ...opts }, out);
  return { code, stdout };
}

/** A monitoring plugin's contract: exactly one line on stdout. */
function oneLine(r: { stdout: string }): string {
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

/** A daemon row with a fresh heartbeat: looks alive to status, but claims nothing. */
async function fakeLiveDaemon(id = 'fake:1:abc', heartbeatAgo = '0 seconds', claiming = true): Promise<void> {
  await db.pool.query(
    `INSERT INTO xtbatch.daemon (daemon_id, daemon_host, daemon_pid, daemon_version, daemon_heartbeat, daemon_claiming)
     VALUES ($1, 'fake', 1, 'test', now() - $2::interval, $3)`,
    [id, heartbeatAgo, claiming],
  );
}

async function insertFinished(n: number, exitstatus: string, completedAgo = '1 minute'): Promise<void> {
  await db.pool.query(
    `INSERT INTO xtbatch.batch (batch_action, batch_started, batch_completed, batch_exitstatus, batch_attempts)
     SELECT 'Email', localtimestamp - $3::interval, localtimestamp - $3::interval, $2, 1 FROM generate_series(1, $1)`,
    [n, exitstatus, completedAgo],
  );
}

describe('xtconnect status', () => {
  it('is CRITICAL (exit 2) when no daemon is alive', async () => {
    const r = await status();
    expect(r.code).toBe(2);
    const line = oneLine(r);
    expect(line).toMatch(/^XTCONNECT CRITICAL - 0 daemon\(s\) alive, need 1;/);
    expect(line).toMatch(/\| daemons=0;1:;1:;0 alive=0;;;0 due=0;;;0 running=0;;;0 failed=0;9;;0 oldest_due=0s;900;;0$/);
  });

  it('is OK (exit 0) with perf data while a real daemon runs, and CRITICAL again once it has stopped', async () => {
    const d = await startDaemon(testConfig(db.url));
    stops.push(() => d.stop(0));

    const ok = await status();
    expect(ok.code).toBe(0);
    expect(oneLine(ok)).toBe(
      'XTCONNECT OK - 1 daemon(s) alive, 0 due, 0 running, 0 failed in 24 h, oldest waiting 0 s ' +
        '| daemons=1;1:;1:;0 alive=1;;;0 due=0;;;0 running=0;;;0 failed=0;9;;0 oldest_due=0s;900;;0',
    );
    const json = await status({ json: true });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      status: 'OK', code: 0, problems: [], daemons_alive: 1, daemons_claiming: 1, due: 0, running: 0, failed: 0, failure_window_seconds: 86_400,
    });

    await d.stop(0);
    const gone = await status();
    expect(gone.code).toBe(2);
    expect(oneLine(gone)).toMatch(/^XTCONNECT CRITICAL - 0 daemon\(s\) alive, need 1;/);
  });

  it('does not count a daemon whose heartbeat is older than status.daemonStaleSeconds', async () => {
    await fakeLiveDaemon('stale:1:aaa', '10 minutes');
    const r = await status();
    expect(r.code).toBe(2);
    expect(oneLine(r)).toMatch(/^XTCONNECT CRITICAL - 0 daemon\(s\) alive, need 1;/);
  });

  it('is CRITICAL below --min-daemons and WARNING below --warn-daemons', async () => {
    await fakeLiveDaemon();
    const crit = await status({ minDaemons: 2 });
    expect(crit.code).toBe(2);
    expect(oneLine(crit)).toMatch(/^XTCONNECT CRITICAL - 1 daemon\(s\) alive, need 2;/);
    const warn = await status({ minDaemons: 1, warnDaemons: 2 });
    expect(warn.code).toBe(1);
    expect(oneLine(warn)).toMatch(/^XTCONNECT WARNING - 1 daemon\(s\) alive, want 2;.*\| daemons=1;2:;1:;0 /);
  });

  it('is WARNING at --max-failures and CRITICAL at --crit-failures, not counting old or cancelled ones', async () => {
    await fakeLiveDaemon();
    await insertFinished(2, 'SMTP server refused a recipient');
    await insertFinished(5, 'Cancelled by admin at 2026-01-01 00:00:00');
    await insertFinished(5, 'failed long ago', '2 days');
    await insertFinished(3, '');

    const below = await status({ maxFailures: 3, critFailures: 4 });
    expect(below.code).toBe(0);
    expect(oneLine(below)).toMatch(/^XTCONNECT OK - .* failed=2;2;3;0 /);

    await insertFinished(1, 'could not reach SMTP server');
    const at = await status({ maxFailures: 3, critFailures: 4 });
    expect(at.code).toBe(1);
    expect(oneLine(at)).toMatch(/^XTCONNECT WARNING - 3 job\(s\) failed in 24 h \(limit 3\); .*\| .*failed=3;2;3;0 /);

    await insertFinished(1, 'could not reach SMTP server');
    const crit = await status({ maxFailures: 3, critFailures: 4, json: true });
    expect(crit.code).toBe(2);
    expect(JSON.parse(crit.stdout)).toMatchObject({ status: 'CRITICAL', code: 2, failed: 4, problems: ['4 job(s) failed in 24 h (critical 4)'] });
  });

  it('counts failures in the --failure-window only', async () => {
    await fakeLiveDaemon();
    await insertFinished(4, 'old failure', '3 hours');
    await insertFinished(1, 'recent failure', '10 minutes');
    const day = await status({ maxFailures: 3 });
    expect(day.code).toBe(1);
    expect(oneLine(day)).toMatch(/5 job\(s\) failed in 24 h \(limit 3\)/);
    const hour = await status({ maxFailures: 3, failureWindow: '1h' });
    expect(hour.code).toBe(0);
    expect(oneLine(hour)).toMatch(/^XTCONNECT OK - 1 daemon\(s\) alive, 0 due, 0 running, 1 failed in 1 h, /);
  });

  it('is WARNING, then CRITICAL, as the oldest due job waits past --max-queue-age and --crit-queue-age', async () => {
    await fakeLiveDaemon();
    await db.pool.query(`INSERT INTO xtbatch.batch (batch_action, batch_scheduled) VALUES ('Email', localtimestamp - interval '1 hour')`);
    // Not yet due: does not count.
    await db.pool.query(`INSERT INTO xtbatch.batch (batch_action, batch_scheduled) VALUES ('Email', localtimestamp + interval '1 day')`);

    const late = await status({ maxQueueAge: 600 });
    expect(late.code).toBe(1);
    const line = oneLine(late);
    expect(line).toMatch(/^XTCONNECT WARNING - oldest due job has waited 3[56]\d\d s \(limit 600 s\);/);
    expect(line).toMatch(/ due=1;;;0 .* oldest_due=3[56]\d\ds;600;;0$/);

    const stale = await status({ maxQueueAge: 600, critQueueAge: 1800 });
    expect(stale.code).toBe(2);
    expect(oneLine(stale)).toMatch(/^XTCONNECT CRITICAL - oldest due job has waited 3[56]\d\d s \(critical 1800 s\);/);

    const patient = await status({ maxQueueAge: 7200 });
    expect(patient.code).toBe(0);
  });

  it('is WARNING when EnableBatchManager is off', async () => {
    await fakeLiveDaemon('off:1:abc', '0 seconds', false);
    await db.pool.query(`SELECT xtbatch.setsetting('EnableBatchManager', 'f')`);
    const r = await status();
    expect(r.code).toBe(1);
    expect(oneLine(r)).toMatch(/^XTCONNECT WARNING - EnableBatchManager is off: no job is submitted or run; /);
  });

  it('reports a daemon that stopped claiming because the schema moved past it: CRITICAL when it was the only one', async () => {
    const d = await startDaemon(testConfig(db.url), {}, { id: 'old-build:1:abc' });
    stops.push(() => d.stop(0));
    await db.pool.query(`INSERT INTO xtbatch.xtconnect_migration (migration_version, migration_name) VALUES (9001, '9001_from_a_newer_xtconnect')`);
    const r = await waitFor('status to see the daemon idle', async () => {
      const s = await status();
      return s.code === 2 ? s : null;
    });
    expect(oneLine(r)).toMatch(/^XTCONNECT CRITICAL - 0 of 1 live daemon\(s\) claiming, need 1; not claiming \(older than the database schema\? see its log\): \S+ pid \d+ version /);
  });

  it('is CRITICAL when the database cannot be reached, in text and in JSON', async () => {
    const closed = await freePort();
    const url = `postgresql://postgres@127.0.0.1:${closed}/nothing`;
    const r = await status({}, url);
    expect(r.code).toBe(2);
    expect(oneLine(r)).toMatch(/^XTCONNECT CRITICAL - database unreachable: .*ECONNREFUSED/);

    const j = await status({ json: true }, url);
    expect(j.code).toBe(2);
    const parsed = JSON.parse(j.stdout) as { status: string; code: number; problems: string[] };
    expect(parsed).toMatchObject({ status: 'CRITICAL', code: 2 });
    expect(parsed.problems[0]).toMatch(/^database unreachable: /);
  });

  it('is UNKNOWN (exit 3) when the server answers but has no xtbatch schema, and when thresholds contradict', async () => {
    const empty = await createTestDatabase({ empty: true });
    try {
      const r = await status({}, empty.url);
      expect(r.code).toBe(3);
      expect(oneLine(r)).toMatch(/^XTCONNECT UNKNOWN - the xtbatch schema is not installed in this database \(.*xtbatch.*\): "xtconnect migrate" installs it$/);
    } finally {
      await empty.drop();
    }
    const bad = await status({ maxFailures: 10, critFailures: 5 });
    expect(bad.code).toBe(3);
    expect(oneLine(bad)).toBe('XTCONNECT UNKNOWN - --crit-failures (5) cannot be below --max-failures (10, WARNING)');
    const window = await status({ failureWindow: 'soon' });
    expect(window.code).toBe(3);
    expect(oneLine(window)).toMatch(/^XTCONNECT UNKNOWN - --failure-window must be a duration/);
  });

  it('--json prints one parseable object whose code is the exit code', async () => {
    const r = await status({ json: true });
    expect(r.code).toBe(2);
    const parsed = JSON.parse(oneLine(r)) as Record<string, unknown>;
    expect(parsed).toMatchObject({ status: 'CRITICAL', code: 2, daemons_alive: 0, enabled: true, thresholds: { critDaemons: 1, warnFailures: 10 } });
    expect(parsed.problems).toEqual(['0 daemon(s) alive, need 1']);
  });
});
