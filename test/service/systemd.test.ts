import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { tempDir } from '../support/tempDirs';

// systemd/xtconnect.service, checked by systemd's own tools: `systemd-analyze verify` (what systemctl would refuse
// or warn about) and `systemd-analyze security --offline=true` (the exposure score of its sandboxing).

const { buildBinary } = require('../../scripts/build-binary') as {
  buildBinary(o: { output: string; work: string }): Promise<{ output: string }>;
};

const UNIT = path.resolve(__dirname, '..', '..', 'systemd', 'xtconnect.service');
const INSTALLED = '/usr/local/bin/xtconnect';
/** The sandboxing must stay at least this tight ("OK" in systemd-analyze's words is below 5). */
const MAX_EXPOSURE = 2.0;

interface Result {
  code: number;
  out: string;
}

function analyze(args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile('systemd-analyze', args, { encoding: 'utf8', env: { ...process.env, SYSTEMD_PAGER: '', SYSTEMD_COLORS: '0' } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
  });
}

/** The unit's settings: key → every value it is given, in order. */
function settings(text: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (kv) m.set(kv[1]!, [...(m.get(kv[1]!) ?? []), kv[2]!]);
  }
  return m;
}

function seconds(v: string | undefined): number {
  const m = /^(\d+)(s|min)?$/.exec(v ?? '');
  if (!m) throw new Error(`not a time span this test reads: ${v}`);
  return Number(m[1]) * (m[2] === 'min' ? 60 : 1);
}

let dir: string;
let binary: string;
const text = fs.readFileSync(UNIT, 'utf8');
const unit = settings(text);

/** The unit as installed, but running `exec` (a file that exists here) instead of /usr/local/bin/xtconnect. */
function copyWith(exec: string, name = 'xtconnect.service', edit: (t: string) => string = (t) => t): string {
  expect(text).toContain(`ExecStart=${INSTALLED} start\n`);
  const file = path.join(dir, name);
  fs.writeFileSync(file, edit(text.replace(`ExecStart=${INSTALLED} `, `ExecStart=${exec} `)));
  return file;
}

beforeAll(async () => {
  dir = tempDir('xtconnect-systemd-');
  binary = (await buildBinary({ output: path.join(dir, 'bin', 'xtconnect'), work: path.join(dir, 'sea') })).output;
}, 180_000);

describe('systemd-analyze verify', () => {
  it('accepts the unit without a single warning, running the built binary', async () => {
    const r = await analyze(['verify', copyWith(binary)]);
    expect(r).toEqual({ code: 0, out: '' });
  });

  it('fails when the binary is missing, and warns about a setting it does not know: the check can fail', async () => {
    const missing = await analyze(['verify', copyWith(path.join(dir, 'nowhere', 'xtconnect'), 'missing.service')]);
    expect(missing.code).not.toBe(0);
    expect(missing.out).toContain('is not executable');
    const typo = await analyze(['verify', copyWith(binary, 'typo.service', (t) => t.replace('WatchdogSec=', 'WatchDogSec='))]);
    expect(typo.out).toContain("Unknown key 'WatchDogSec'");
  });
});

describe('the unit', () => {
  it('is Type=notify, accepting notifications from systemd-notify, with a watchdog', () => {
    expect(unit.get('Type')).toEqual(['notify']);
    expect(unit.get('NotifyAccess')).toEqual(['all']);
    expect(seconds(unit.get('WatchdogSec')?.[0])).toBeGreaterThanOrEqual(10);
    // Start-up waits for the database, pushing this back with EXTEND_TIMEOUT_USEC; it must be set, not infinite.
    expect(seconds(unit.get('TimeoutStartSec')?.[0])).toBeGreaterThan(0);
  });

  it('runs the installed binary as the unprivileged xtconnect user, with its config and secrets', () => {
    expect(unit.get('ExecStart')).toEqual([`${INSTALLED} start`]);
    expect(unit.get('User')).toEqual(['xtconnect']);
    expect(unit.get('DynamicUser')).toBeUndefined();
    expect(unit.get('Environment')).toContain('XTCONNECT_CONFIG=/etc/xtconnect/xtconnect.yaml');
    expect(unit.get('EnvironmentFile')).toEqual(['-/etc/xtconnect/xtconnect.env']);
  });

  it('restarts on failure, with a limit, but not after a bad config (exit 2)', () => {
    expect(unit.get('Restart')).toEqual(['on-failure']);
    expect(unit.get('RestartPreventExitStatus')).toEqual(['2']);
    expect(Number(unit.get('StartLimitBurst')?.[0])).toBeGreaterThan(0);
    expect(seconds(unit.get('StartLimitIntervalSec')?.[0])).toBeGreaterThan(0);
  });

  it('waits for the whole drain before killing: running jobs, writing their outcomes, the done notices', () => {
    const cfg = loadConfig({ config: undefined }, { HOME: dir } as NodeJS.ProcessEnv);
    // Daemon.stop(): the drain, then up to as long again for outcomes to be written, then 10 s for notices.
    const drain = cfg.daemon.drainTimeoutSeconds;
    expect(seconds(unit.get('TimeoutStopSec')?.[0])).toBeGreaterThan(drain + Math.max(5, drain) + 10);
    expect(unit.get('KillSignal')).toEqual(['SIGTERM']);
  });

  it('writes only its state folders: spool, inbox, outbox and reports, where the config puts them by default', () => {
    expect(unit.get('ProtectSystem')).toEqual(['strict']);
    const state = (unit.get('StateDirectory') ?? []).join(' ').split(/\s+/);
    expect(state[0]).toBe('xtconnect');
    for (const sub of ['spool', 'inbox', 'outbox', 'reports']) expect(state).toContain(`xtconnect/${sub}`);
    // With StateDirectory=, systemd sets STATE_DIRECTORY (every folder, ':'-separated); dataDir is the first.
    const stateDirectory = state.map((s) => `/var/lib/${s}`).join(':');
    const cfg = loadConfig({ config: undefined }, { HOME: dir, STATE_DIRECTORY: stateDirectory } as NodeJS.ProcessEnv);
    expect(cfg.dataDir).toBe('/var/lib/xtconnect');
    expect([cfg.spoolDir, cfg.inboxDir, cfg.outboxDir, cfg.reports.outputDir]).toEqual(
      ['spool', 'inbox', 'outbox', 'reports'].map((s) => `/var/lib/xtconnect/${s}`),
    );
    for (const key of ['NoNewPrivileges', 'PrivateTmp', 'ProtectHome']) expect(unit.get(key)).toEqual(['yes']);
    expect(unit.get('RestrictAddressFamilies')).toEqual(['AF_UNIX AF_INET AF_INET6']);
  });
});

describe('systemd-analyze security --offline=true', () => {
  it(`scores an exposure of at most ${MAX_EXPOSURE}`, async () => {
    const r = await analyze(['security', '--offline=true', '--no-pager', copyWith(binary)]);
    expect(r.code).toBe(0);
    const m = /Overall exposure level for xtconnect\.service: (\d+\.\d+) (\w+)/.exec(r.out);
    if (!m) throw new Error(`no exposure level in:\n${r.out}`);
    // Recorded for the README.
    console.log(`systemd-analyze security: exposure ${m[1]} ${m[2]}`);
    expect(Number(m[1])).toBeLessThanOrEqual(MAX_EXPOSURE);
  });
});
