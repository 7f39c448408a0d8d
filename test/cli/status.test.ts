import fs from 'node:fs';
import path from 'node:path';
import { writeConfigFile } from '../support/config';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { daemonYaml, killAll, removeTempDirs, runXt, spawnXt, tempDir, type RunResult } from '../support/proc';
import { freePort } from '../support/smtp';

// `xtconnect status` is what Nagios, Icinga or a systemd timer runs: one line, perf data after '|', and the exit
// code is the verdict (0 OK, 1 WARNING, 2 CRITICAL).

let db: TestDatabase;
let emptyConfig: string;

beforeAll(async () => {
  db = await createTestDatabase();
  const dir = tempDir();
  emptyConfig = path.join(dir, 'empty.yaml');
  fs.writeFileSync(emptyConfig, '');
});
afterEach(async () => {
  await killAll();
  await db.pool.query('TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE');
  await db.pool.query(`SELECT xtbatch.setsetting('EnableBatchManager', 't')`);
});
afterAll(async () => {
  await killAll();
  await db.drop();
  removeTempDirs();
});

function status(...args: string[]): Promise<RunResult> {
  return runXt(['--config', emptyConfig, '--database-url', db.url, 'status', ...args]);
}

/** A monitoring plugin's contract: exactly one line on stdout. */
function oneLine(r: RunResult): string {
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

/** A daemon row with a fresh heartbeat: looks alive to status, but claims nothing. */
async function fakeLiveDaemon(id = 'fake:1:abc', heartbeatAgo = '0 seconds'): Promise<void> {
  await db.pool.query(
    `INSERT INTO xtbatch.daemon (daemon_id, daemon_host, daemon_pid, daemon_version, daemon_heartbeat)
     VALUES ($1, 'fake', 1, 'test', now() - $2::interval)`,
    [id, heartbeatAgo],
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
    expect(line).toMatch(/\| daemons=0 due=0 running=0 failed_24h=0 oldest_due=0s$/);
  });

  it('is OK (exit 0) with perf data while a real daemon runs, and CRITICAL again once it has stopped', async () => {
    const dir = tempDir();
    const file = writeConfigFile(dir, daemonYaml({ url: db.url, dataDir: dir }));
    const daemon = spawnXt(['start', '--config', file]);
    await daemon.waitForLine(/\[daemon\] daemon \S+ started/);

    const ok = await status();
    expect(ok.code).toBe(0);
    expect(oneLine(ok)).toBe(
      'XTCONNECT OK - 1 daemon(s) alive, 0 due, 0 running, 0 failed in 24 h, oldest waiting 0 s ' +
        '| daemons=1 due=0 running=0 failed_24h=0 oldest_due=0s',
    );
    const json = await status('--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: 'OK', code: 0, problems: [], daemons_alive: 1, due: 0, running: 0, failed_24h: 0 });

    daemon.signal('SIGTERM');
    expect(await daemon.waitForExit()).toEqual({ code: 0, signal: null });
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

  it('is CRITICAL below --min-daemons', async () => {
    await fakeLiveDaemon();
    const r = await status('--min-daemons', '2');
    expect(r.code).toBe(2);
    expect(oneLine(r)).toMatch(/^XTCONNECT CRITICAL - 1 daemon\(s\) alive, need 2;/);
  });

  it('is WARNING (exit 1) when failures in the last 24 h reach --max-failures, not below, and not counting old or cancelled ones', async () => {
    await fakeLiveDaemon();
    await insertFinished(2, 'SMTP server refused a recipient');
    await insertFinished(5, 'Cancelled by admin at 2026-01-01 00:00:00');
    await insertFinished(5, 'failed long ago', '2 days');
    await insertFinished(3, '');

    const below = await status('--max-failures', '3');
    expect(below.code).toBe(0);
    expect(oneLine(below)).toMatch(/^XTCONNECT OK - .*\| daemons=1 due=0 running=0 failed_24h=2 oldest_due=0s$/);

    await insertFinished(1, 'could not reach SMTP server');
    const at = await status('--max-failures', '3');
    expect(at.code).toBe(1);
    expect(oneLine(at)).toMatch(/^XTCONNECT WARNING - 3 job\(s\) failed in 24 h \(limit 3\); .*\| .*failed_24h=3 /);

    const json = await status('--max-failures', '3', '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: 'WARNING', code: 1, failed_24h: 3, problems: ['3 job(s) failed in 24 h (limit 3)'] });
  });

  it('is WARNING when the oldest due job has waited longer than --max-queue-age', async () => {
    await fakeLiveDaemon();
    await db.pool.query(`INSERT INTO xtbatch.batch (batch_action, batch_scheduled) VALUES ('Email', localtimestamp - interval '1 hour')`);
    // Not yet due: does not count.
    await db.pool.query(`INSERT INTO xtbatch.batch (batch_action, batch_scheduled) VALUES ('Email', localtimestamp + interval '1 day')`);

    const late = await status('--max-queue-age', '600');
    expect(late.code).toBe(1);
    const line = oneLine(late);
    expect(line).toMatch(/^XTCONNECT WARNING - oldest due job has waited 3[56]\d\d s \(limit 600 s\);/);
    expect(line).toMatch(/\| daemons=1 due=1 running=0 failed_24h=0 oldest_due=3[56]\d\ds$/);

    const patient = await status('--max-queue-age', '7200');
    expect(patient.code).toBe(0);
    expect(oneLine(patient)).toMatch(/^XTCONNECT OK - /);
  });

  it('is WARNING when EnableBatchManager is off', async () => {
    await fakeLiveDaemon();
    await db.pool.query(`SELECT xtbatch.setsetting('EnableBatchManager', 'f')`);
    const r = await status();
    expect(r.code).toBe(1);
    expect(oneLine(r)).toMatch(/^XTCONNECT WARNING - EnableBatchManager is off: no job is submitted or run; /);
  });

  it('is CRITICAL when the database cannot be reached, in text and in JSON', async () => {
    const closed = await freePort();
    const url = `postgresql://postgres@127.0.0.1:${closed}/nothing`;
    const r = await runXt(['--config', emptyConfig, '--database-url', url, 'status']);
    expect(r.code).toBe(2);
    expect(oneLine(r)).toMatch(/^XTCONNECT CRITICAL - database unreachable: .*ECONNREFUSED/);

    const j = await runXt(['--config', emptyConfig, '--database-url', url, 'status', '--json']);
    expect(j.code).toBe(2);
    const parsed = JSON.parse(j.stdout) as { status: string; code: number; problems: string[] };
    expect(parsed).toMatchObject({ status: 'CRITICAL', code: 2 });
    expect(parsed.problems[0]).toMatch(/^database unreachable: /);
  });

  it('--json prints one parseable object whose code is the exit code', async () => {
    const r = await status('--json');
    expect(r.code).toBe(2);
    const parsed = JSON.parse(oneLine(r)) as Record<string, unknown>;
    expect(parsed).toMatchObject({ status: 'CRITICAL', code: 2, daemons_alive: 0, enabled: true });
    expect(parsed.problems).toEqual(['0 daemon(s) alive, need 1']);
  });
});
