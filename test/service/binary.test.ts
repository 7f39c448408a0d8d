import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { daemonYaml, yamlString } from '../support/proc';
import { tempDir } from '../support/tempDirs';
import { waitFor } from '../support/wait';
import { PROBE, PROBE_RESULT } from '../support/bundleProbe';

// The one-file deliverables, run the way an administrator runs them: the standalone binary copied to a folder of
// its own, with no Node on PATH and no node_modules anywhere near, and dist/xtconnect.js from any folder.

// The build scripts are plain Node JavaScript (they run without ts-node); the tests call them as the npm scripts do.
const { buildBinary } = require('../../scripts/build-binary') as {
  buildBinary(o: { output: string; work: string; entry?: string }): Promise<{ output: string; runtime: string }>;
};
const { bundle } = require('../../scripts/bundle') as { bundle(o: { outfile: string }): Promise<{ outfile: string }> };

const ROOT = path.resolve(__dirname, '..', '..');
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const MIGRATIONS = fs.readdirSync(path.join(ROOT, 'sql')).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort().map((f) => f.replace(/\.sql$/, ''));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Started {
  pid: number;
  output(): string;
  readonly exited: Promise<Run>;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM, then its end. */
  stop(): Promise<Run>;
  /** SIGKILL to its process group (an embedded PostgreSQL too): for clean-up after a failure. */
  kill(): Promise<void>;
}

const running = new Set<Started>();

/** Starts a program (or, with `node`, a script under this Node) and collects what it prints. */
function start(file: string, args: string[], o: { cwd: string; env: NodeJS.ProcessEnv; node?: boolean }): Started {
  const child = spawn(o.node ? process.execPath : file, o.node ? [file, ...args] : args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  let done = false;
  const exited = new Promise<Run>((resolve) => child.once('close', (code) => {
    done = true;
    resolve({ code, stdout, stderr });
  }));
  const describe = () => `\n--- ${path.basename(file)} ${args.join(' ')}\n--- stdout:\n${stdout.slice(-3000)}\n--- stderr:\n${stderr.slice(-3000)}`;
  const s: Started = {
    pid: child.pid!,
    output: () => stdout + stderr,
    exited,
    waitFor: async (pattern, timeoutMs = 20_000) => {
      await waitFor(`${String(pattern)}${describe()}`, () => pattern.test(stdout + stderr) || done, timeoutMs);
      const m = pattern.exec(stdout + stderr);
      if (!m) throw new Error(`exited without printing ${String(pattern)}${describe()}`);
      return m[0];
    },
    stop: () => {
      if (!done) child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      if (!done) {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }
      await exited;
    },
  };
  running.add(s);
  void exited.then(() => running.delete(s));
  return s;
}

/** Runs a command to its end; one still running after `timeoutMs` is killed and fails the test. */
async function run(file: string, args: string[], o: { cwd: string; env: NodeJS.ProcessEnv; node?: boolean; timeoutMs?: number }): Promise<Run> {
  const s = start(file, args, o);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${path.basename(file)} ${args.join(' ')} still running after ${o.timeoutMs ?? 30_000} ms:\n${s.output()}`)), o.timeoutMs ?? 30_000);
  });
  try {
    return await Promise.race([s.exited, timedOut]);
  } catch (err) {
    await s.kill();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

let work: string;
let binary: string;
let probe: string;
/** PATH for the binary: an empty folder, so no node (or anything else) can be found. */
let env: NodeJS.ProcessEnv;
const dbs: TestDatabase[] = [];

async function database(empty: boolean): Promise<TestDatabase> {
  const db = await createTestDatabase({ empty });
  dbs.push(db);
  return db;
}

beforeAll(async () => {
  work = tempDir('xtconnect-binary-');
  // Built from the current source into folders of this test's own (the .cache/ runtime is shared and reused).
  const [cli, deps] = await Promise.all([
    buildBinary({ output: path.join(work, 'build', 'xtconnect'), work: path.join(work, 'sea-cli') }),
    buildBinary({ output: path.join(work, 'build', 'probe'), work: path.join(work, 'sea-probe'), entry: PROBE }),
  ]);
  // Installed somewhere with nothing around it, as on a server.
  const bin = path.join(cwd(), 'bin');
  fs.mkdirSync(bin, { recursive: true });
  binary = path.join(bin, 'xtconnect');
  probe = path.join(bin, 'probe');
  fs.copyFileSync(cli.output, binary);
  fs.copyFileSync(deps.output, probe);
  fs.chmodSync(binary, 0o755);
  fs.chmodSync(probe, 0o755);
  const emptyPath = path.join(cwd(), 'empty-path');
  fs.mkdirSync(emptyPath);
  env = { PATH: emptyPath, HOME: work, LANG: 'C.UTF-8' };
}, 180_000);

afterEach(async () => {
  await Promise.all([...running].map((s) => s.kill()));
});
afterAll(async () => {
  await Promise.all(dbs.map((d) => d.drop()));
  for (const d of isolated.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function nodeModulesAbove(dir: string): string | null {
  for (let d = dir; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'node_modules'))) return path.join(d, 'node_modules');
    if (d === path.dirname(d)) return null;
  }
}

/**
 * A folder to run in and copy programs to, with no node_modules in it or in any folder above it (Node would
 * find dependencies there): under the system temp folder, or /var/tmp when someone put a node_modules in /tmp.
 */
function cwd(): string {
  const base = [os.tmpdir(), '/var/tmp'].find((b) => fs.existsSync(b) && !nodeModulesAbove(b));
  if (!base) throw new Error(`every temp folder has a node_modules above it (${nodeModulesAbove(os.tmpdir())}): cannot test running without one`);
  const dir = fs.mkdtempSync(path.join(base, 'xtconnect-binary-cwd-'));
  isolated.push(dir);
  return dir;
}
const isolated: string[] = [];

describe('the standalone binary', () => {
  it('runs with no node on PATH and no node_modules: --version', async () => {
    expect(fs.readdirSync(env.PATH!)).toEqual([]);
    const r = await run(binary, ['--version'], { cwd: cwd(), env });
    expect(r).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it('carries every dependency, working (pdfkit fonts and ICC profile, ssh2 in JavaScript, charsets, metrics, the chunks of lazily loaded libraries)', async () => {
    const r = await run(probe, [], { cwd: cwd(), env });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual(PROBE_RESULT);
  });

  it('migrates an empty database with the migrations it carries', async () => {
    const db = await database(true);
    const dir = cwd();
    const r = await run(binary, ['migrate', '--database-url', db.url], { cwd: dir, env });
    expect(r.code).toBe(0);
    const applied = await db.pool.query<{ migration_name: string }>('SELECT migration_name FROM xtbatch.xtconnect_migration ORDER BY 1');
    expect(applied.rows.map((x) => x.migration_name)).toEqual(MIGRATIONS);
    // Run again: nothing left to do.
    expect((await run(binary, ['migrate', '--database-url', db.url], { cwd: dir, env })).code).toBe(0);
    expect((await db.pool.query('SELECT 1 FROM xtbatch.xtconnect_migration')).rowCount).toBe(MIGRATIONS.length);
  });

  it('starts, runs a queued Email job to done, reports OK in status, and drains on SIGTERM', async () => {
    const db = await database(false);
    const dir = cwd();
    const dataDir = path.join(dir, 'state');
    const config = path.join(dir, 'xtconnect.yaml');
    fs.writeFileSync(config, daemonYaml({ url: db.url, dataDir }));
    const { rows } = await db.pool.query<{ id: number }>(
      `SELECT xtbatch.submitEmailToBatch('erp@example.com', 'to@example.com', NULL, 'from the binary', 'body', NULL, NULL::timestamp, false, NULL, NULL) AS id`,
    );
    const id = rows[0]!.id;

    const daemon = start(binary, ['start', '--config', config], { cwd: dir, env });
    await daemon.waitFor(/\[daemon\] daemon \S+ started/);
    const done = await waitFor(`job ${id} done`, async () => {
      const r = await db.pool.query<{ batch_completed: string | null; batch_exitstatus: string | null }>(
        'SELECT batch_completed, batch_exitstatus FROM xtbatch.batch WHERE batch_id = $1', [id]);
      return r.rows[0]!.batch_completed ? r.rows[0]! : null;
    }, 20_000);
    expect(done.batch_exitstatus).toBe('');
    const state = await db.pool.query<{ state: string }>('SELECT state FROM xtbatch.job WHERE batch_id = $1', [id]);
    expect(state.rows[0]!.state).toBe('done');
    const eml = fs.readdirSync(path.join(dataDir, 'outbox')).filter((f) => f.endsWith('.eml'));
    expect(eml).toHaveLength(1);
    expect(fs.readFileSync(path.join(dataDir, 'outbox', eml[0]!), 'utf8')).toContain('Subject: from the binary');

    const status = await run(binary, ['status', '--config', config], { cwd: dir, env });
    expect(status.stdout).toMatch(/^XTCONNECT OK - 1 daemon/);
    expect(status.code).toBe(0);

    const end = await daemon.stop();
    expect(end.code).toBe(0);
    expect(end.stderr).toMatch(/\[daemon\] daemon \S+ stopped/);
  });

  it('refuses to start with no database configured (it has no embedded PostgreSQL): exit 2, naming database.url', async () => {
    const dir = cwd();
    const config = path.join(dir, 'xtconnect.yaml');
    fs.writeFileSync(config, `dataDir: ${yamlString(path.join(dir, 'state'))}\n`);
    const r = await run(binary, ['start', '--config', config], { cwd: dir, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^xtconnect: no database is configured, and the standalone xtconnect binary cannot run an embedded PostgreSQL: set database\.url/);
    expect(fs.existsSync(path.join(dir, 'state', 'postgres'))).toBe(false);
  });
});

describe('dist/xtconnect.js, the bundle', () => {
  let bundled: string;

  beforeAll(async () => {
    bundled = (await bundle({ outfile: path.join(ROOT, 'dist', 'xtconnect.js') })).outfile;
  });

  it('runs from any folder: --version, and migrate with the migrations it carries', async () => {
    const dir = cwd();
    const copy = path.join(dir, 'xtconnect.js');
    fs.copyFileSync(bundled, copy);
    const nodeEnv = { PATH: env.PATH, HOME: work };
    expect(await run(copy, ['--version'], { cwd: cwd(), env: nodeEnv, node: true })).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    const db = await database(true);
    const r = await run(copy, ['migrate', '--database-url', db.url], { cwd: cwd(), env: nodeEnv, node: true });
    expect(r.code).toBe(0);
    expect((await db.pool.query('SELECT 1 FROM xtbatch.xtconnect_migration')).rowCount).toBe(MIGRATIONS.length);
  });

  it('keeps the embedded PostgreSQL when run with Node and no database is configured', async () => {
    const dir = cwd();
    fs.chmodSync(dir, 0o755);
    const config = path.join(dir, 'xtconnect.yaml');
    fs.writeFileSync(config, `dataDir: ${yamlString(path.join(dir, 'state'))}\n`);
    // initdb needs the system's tools (locale; as root, useradd): this is the Node install, not the binary.
    const daemon = start(bundled, ['start', '--config', config], { cwd: dir, env: { PATH: process.env.PATH, HOME: work }, node: true });
    await daemon.waitFor(/\[daemon\] daemon \S+ started/, 60_000);
    expect(daemon.output()).toContain('[embedded] embedded PostgreSQL running on 127.0.0.1');
    expect((await daemon.stop()).code).toBe(0);
  }, 90_000);
});
