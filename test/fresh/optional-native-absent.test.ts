import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { PROBE, PROBE_RESULT } from '../support/bundleProbe';
import { tempDir } from '../support/tempDirs';

// A machine that cannot build native add-ons (no compiler, or no route to node-gyp's headers): npm leaves out an
// optional dependency whose build fails (ssh2's cpu-features) and ssh2's own sshcrypto.node is never built. The
// project must still build (npm ci runs "prepare", which is "npm run build") and run, as a bundle and as the
// standalone binary. This test makes that machine's checkout: a copy of the project whose node_modules (hard
// links, so it costs no space) has every optional add-on removed and no compiled .node file anywhere, then runs
// the real build there with a fresh HOME and npm cache, and the smoke tests of what it built.

jest.setTimeout(600_000);

const ROOT = path.resolve(__dirname, '..', '..');
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], o: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: o.cwd, env: o.env, timeout: o.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr: err && !stderr ? String(err) : stderr });
    });
  });
}

interface LockEntry {
  optional?: boolean;
  hasInstallScript?: boolean;
}

/** Packages npm leaves out when their install script (a native build) fails: optional and with a binding.gyp. */
function optionalNativeAddons(): string[] {
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  return Object.entries(lock.packages)
    // Present here: it builds with node-gyp. Absent: npm already left it out (this machine could not build it).
    .filter(([p, e]) => p.startsWith('node_modules/') && e.optional && e.hasInstallScript &&
      (!fs.existsSync(path.join(ROOT, p)) || fs.existsSync(path.join(ROOT, p, 'binding.gyp'))))
    .map(([p]) => p);
}

/** Every compiled add-on under `dir`. */
function nodeFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.node')) found.push(p);
    }
  };
  walk(dir);
  return found;
}

const isolated: string[] = [];

/** A folder with no node_modules in it or above it, where Node cannot find any dependency by accident. */
function isolatedDir(): string {
  const hasNodeModulesAbove = (d: string): boolean => {
    for (let x = d; ; x = path.dirname(x)) {
      if (fs.existsSync(path.join(x, 'node_modules'))) return true;
      if (x === path.dirname(x)) return false;
    }
  };
  const base = [os.tmpdir(), '/var/tmp'].find((b) => fs.existsSync(b) && !hasNodeModulesAbove(b));
  if (!base) throw new Error('every temp folder has a node_modules above it');
  const dir = fs.mkdtempSync(path.join(base, 'xtconnect-fresh-cwd-'));
  isolated.push(dir);
  return dir;
}

let view: string;
let home: string;
let env: NodeJS.ProcessEnv;
let removed: string[];
let build: Run;
let db: TestDatabase | null = null;

beforeAll(async () => {
  view = tempDir('xtconnect-fresh-');
  home = path.join(view, '.home');
  fs.mkdirSync(home);
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) fs.copyFileSync(path.join(ROOT, f), path.join(view, f));
  for (const d of ['bin', 'scripts', 'src', 'sql']) fs.cpSync(path.join(ROOT, d), path.join(view, d), { recursive: true });
  // Hard links: nothing is written into node_modules below (no install scripts run), so the shared files stay as
  // they are; deleting a link here does not touch the original. The real folder: a node_modules that is a symlink
  // (a git worktree sharing another's install) would be copied as the link, and the add-ons deleted in the original.
  const cp = await run('cp', ['-al', fs.realpathSync(path.join(ROOT, 'node_modules')), path.join(view, 'node_modules')], { cwd: view, env: process.env });
  if (cp.code !== 0) throw new Error(`cp -al node_modules failed: ${cp.stderr}`);
  removed = optionalNativeAddons();
  for (const p of removed) fs.rmSync(path.join(view, p), { recursive: true, force: true });
  for (const f of nodeFiles(path.join(view, 'node_modules'))) fs.rmSync(f);
  // The Node runtime the binary embeds is fetched once into .cache/ and shared with test/service/binary.test.ts.
  fs.mkdirSync(path.join(ROOT, '.cache'), { recursive: true });
  fs.symlinkSync(path.join(ROOT, '.cache'), path.join(view, '.cache'));
  // A new user's environment: fresh HOME and npm cache, no npm update check.
  env = {
    PATH: process.env.PATH,
    HOME: home,
    LANG: 'C.UTF-8',
    npm_config_cache: path.join(home, '.npm'),
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  };
  // What "npm ci" runs after installing: the prepare script.
  build = await run('npm', ['run', 'prepare'], { cwd: view, env, timeoutMs: 300_000 });
});

afterAll(async () => {
  await db?.drop();
  for (const d of isolated.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('a checkout whose optional native add-ons could not be built', () => {
  it('has none: cpu-features is gone and no compiled add-on is left', () => {
    expect(removed).toContain('node_modules/cpu-features');
    expect(fs.existsSync(path.join(view, 'node_modules', 'cpu-features'))).toBe(false);
    expect(nodeFiles(path.join(view, 'node_modules'))).toEqual([]);
  });

  it('builds: npm run prepare (what npm ci runs) exits 0', () => {
    expect({ code: build.code, stderr: build.stderr }).toEqual({ code: 0, stderr: '' });
    expect(build.stdout).toMatch(/bundled dist\/xtconnect\.js \(\d+\.\d MB\)/);
    // The bundle leaves every optional dependency out, whether node_modules holds it or not.
    const bundled = fs.readFileSync(path.join(view, 'dist', 'xtconnect.js'), 'utf8');
    expect(bundled).toContain("Cannot find module 'cpu-features' (an optional dependency of ssh2");
  });

  it('package.json names no main file the build does not make', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(view, 'package.json'), 'utf8')) as { main?: string; bin: Record<string, string> };
    if (pkg.main !== undefined) expect(fs.existsSync(path.join(view, pkg.main))).toBe(true);
    for (const file of Object.values(pkg.bin)) expect(fs.existsSync(path.join(view, file))).toBe(true);
  });

  it('runs from the checkout: bin/xtconnect.js, npm start\'s program, and npx xtconnect', async () => {
    expect(await run(process.execPath, [path.join(view, 'bin', 'xtconnect.js'), '--version'], { cwd: view, env })).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    // npx in the checkout links the project itself into its cache and runs its bin; --offline: no registry.
    const npx = await run('npx', ['--offline', 'xtconnect', '--version'], { cwd: view, env });
    expect({ code: npx.code, stdout: npx.stdout }).toEqual({ code: 0, stdout: `${VERSION}\n` });
  });

  it('ssh2 works in JavaScript there (no cpu-features, no sshcrypto.node), as the SFTP code loads it', async () => {
    const script = `
      const ssh2 = require('ssh2');
      let cpu = 'loaded'; try { require('cpu-features'); } catch (e) { cpu = e.code; }
      const key = ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 });
      console.log(JSON.stringify({ cpu, key: ssh2.utils.parseKey(key.private).type, sftp: typeof require('ssh2-sftp-client') }));`;
    const r = await run(process.execPath, ['-e', script], { cwd: view, env });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ cpu: 'MODULE_NOT_FOUND', key: 'ecdsa-sha2-nistp256', sftp: 'function' });
  });

  it('the bundle it built runs from any folder: --version, and migrate', async () => {
    const dir = isolatedDir();
    const copy = path.join(dir, 'xtconnect.js');
    fs.copyFileSync(path.join(view, 'dist', 'xtconnect.js'), copy);
    expect(await run(process.execPath, [copy, '--version'], { cwd: dir, env })).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    db = await createTestDatabase({ empty: true });
    const r = await run(process.execPath, [copy, 'migrate', '--database-url', db.url], { cwd: dir, env });
    expect({ code: r.code, stderr: r.stderr.split('\n').filter((l) => /error|fail/i.test(l)) }).toEqual({ code: 0, stderr: [] });
    expect((await db.pool.query('SELECT 1 FROM xtbatch.xtconnect_migration')).rowCount).toBeGreaterThanOrEqual(3);
  });

  it('the standalone binary builds from it and passes its smoke test: --version and the dependency probe', async () => {
    const { buildBinary } = require(path.join(view, 'scripts', 'build-binary.js')) as {
      buildBinary(o: { output: string; work: string; entry?: string }): Promise<{ output: string }>;
    };
    const out = path.join(view, 'build');
    const cli = await buildBinary({ output: path.join(out, 'xtconnect'), work: path.join(view, 'sea-cli') });
    const probe = await buildBinary({ output: path.join(out, 'probe'), work: path.join(view, 'sea-probe'), entry: PROBE });
    const dir = isolatedDir();
    const emptyPath = path.join(dir, 'empty-path');
    fs.mkdirSync(emptyPath);
    const bare = { PATH: emptyPath, HOME: home, LANG: 'C.UTF-8' };
    expect(await run(cli.output, ['--version'], { cwd: dir, env: bare })).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    const p = await run(probe.output, [], { cwd: dir, env: bare });
    expect(p.stderr).toBe('');
    expect(JSON.parse(p.stdout)).toEqual(PROBE_RESULT);
  });
});
