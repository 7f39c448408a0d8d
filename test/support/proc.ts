import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The real command-line entry point; it runs dist/, so `npm run build` must have run first. */
export const BIN = path.resolve(__dirname, '..', '..', 'bin', 'xtconnect.js');

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface XtProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly args: readonly string[];
  /** Everything written so far. */
  readonly stdout: string;
  readonly stderr: string;
  /** Complete lines from stdout and stderr, in arrival order (logs go to stderr, results to stdout). */
  readonly lines: readonly string[];
  /** Set once the process has exited. */
  readonly exitInfo: ExitInfo | null;
  readonly exited: Promise<ExitInfo>;
  alive(): boolean;
  /**
   * Resolves with the first line (at index `from` or later) that matches; rejects when the process exits without
   * printing one, or after `timeoutMs`. The error carries the output, so a failure shows what the program said.
   */
  waitForLine(pattern: RegExp | string, opts?: { from?: number; timeoutMs?: number }): Promise<string>;
  /** Resolves when the process has exited; rejects after `timeoutMs` (the process is left running). */
  waitForExit(timeoutMs?: number): Promise<ExitInfo>;
  /** Sends a signal to the process only (not its children). */
  signal(sig: NodeJS.Signals): void;
  /** Output for failure messages. */
  describe(): string;
}

export interface SpawnOptions {
  /** Added to (or, with undefined, removed from) the clean environment. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /**
   * Own process group, so that killAll() also kills what the program started (the embedded PostgreSQL). Signals
   * sent with signal() still go to the program only.
   */
  detached?: boolean;
}

const live = new Set<{ proc: XtProcess; detached: boolean }>();

/**
 * The environment of the test run without anything that would point xtconnect somewhere else: no DATABASE_URL,
 * no PG* variables, no XTCONNECT_* variables, no systemd or XDG state folders, no journal.
 */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'DATABASE_URL' || k.startsWith('PG') || k.startsWith('XTCONNECT_')) continue;
    if (['JOURNAL_STREAM', 'STATE_DIRECTORY', 'XDG_STATE_HOME', 'NODE_OPTIONS'].includes(k)) continue;
    env[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

function tail(s: string, n = 4000): string {
  return s.length > n ? '…' + s.slice(-n) : s;
}

/** Starts `node bin/xtconnect.js ...args` and collects what it prints. Every process is killed by killAll(). */
export function spawnXt(args: string[], opts: SpawnOptions = {}): XtProcess {
  if (!fs.existsSync(path.resolve(__dirname, '..', '..', 'dist', 'cli', 'index.js'))) {
    throw new Error('dist/ is missing: run "npm run build" before these tests');
  }
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? os.tmpdir(),
    env: cleanEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.detached ?? false,
  });
  if (child.pid === undefined) throw new Error(`could not start ${BIN}`);
  let stdout = '';
  let stderr = '';
  const partial = { out: '', err: '' };
  const lines: string[] = [];
  let exitInfo: ExitInfo | null = null;
  const waiters = new Set<{ test: (line: string) => boolean; from: number; resolve: (l: string) => void; reject: (e: Error) => void }>();

  const onLine = (line: string): void => {
    lines.push(line);
    for (const w of [...waiters]) {
      if (lines.length - 1 >= w.from && w.test(line)) {
        waiters.delete(w);
        w.resolve(line);
      }
    }
  };
  const feed = (which: 'out' | 'err', chunk: string): void => {
    const text = partial[which] + chunk;
    const parts = text.split('\n');
    partial[which] = parts.pop()!;
    for (const p of parts) onLine(p.replace(/\r$/, ''));
  };
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (c: string) => {
    stdout += c;
    feed('out', c);
  });
  child.stderr!.on('data', (c: string) => {
    stderr += c;
    feed('err', c);
  });

  const exited = new Promise<ExitInfo>((resolve) => {
    // 'close' comes after the pipes are drained, so every line is in `lines` when this resolves.
    child.once('close', (code, signal) => {
      if (partial.out) onLine(partial.out);
      if (partial.err) onLine(partial.err);
      partial.out = partial.err = '';
      exitInfo = { code, signal };
      for (const w of [...waiters]) {
        waiters.delete(w);
        w.reject(new Error(`xtconnect ${args.join(' ')} exited (code ${code}, signal ${signal}) before printing the line wanted\n${proc.describe()}`));
      }
      resolve(exitInfo);
    });
  });

  const proc: XtProcess = {
    child,
    pid: child.pid,
    args,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    lines,
    get exitInfo() {
      return exitInfo;
    },
    exited,
    alive: () => exitInfo === null && child.exitCode === null && child.signalCode === null,
    waitForLine(pattern, o = {}) {
      const from = o.from ?? 0;
      const timeoutMs = o.timeoutMs ?? 15_000;
      const test = typeof pattern === 'string' ? (l: string) => l.includes(pattern) : (l: string) => pattern.test(l);
      const seen = lines.slice(from).find(test);
      if (seen !== undefined) return Promise.resolve(seen);
      if (exitInfo) {
        return Promise.reject(new Error(`xtconnect ${args.join(' ')} has exited without printing ${String(pattern)}\n${proc.describe()}`));
      }
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${String(pattern)} from xtconnect ${args.join(' ')}\n${proc.describe()}`));
        }, timeoutMs);
        const w = {
          test,
          from,
          resolve: (l: string) => {
            clearTimeout(timer);
            resolve(l);
          },
          reject: (e: Error) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        waiters.add(w);
      });
    },
    waitForExit(timeoutMs = 15_000) {
      if (exitInfo) return Promise.resolve(exitInfo);
      let timer: NodeJS.Timeout | undefined;
      return Promise.race([
        exited.finally(() => clearTimeout(timer)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`xtconnect ${args.join(' ')} did not exit within ${timeoutMs} ms\n${proc.describe()}`)), timeoutMs);
        }),
      ]);
    },
    signal(sig) {
      if (proc.alive()) child.kill(sig);
    },
    describe() {
      return `--- pid ${child.pid}, ${exitInfo ? `exited code ${exitInfo.code} signal ${exitInfo.signal}` : 'still running'}\n` +
        `--- stdout:\n${tail(stdout)}\n--- stderr:\n${tail(stderr)}`;
    },
  };
  const entry = { proc, detached: opts.detached ?? false };
  live.add(entry);
  void exited.then(() => live.delete(entry));
  return proc;
}

export interface RunResult extends ExitInfo {
  stdout: string;
  stderr: string;
  proc: XtProcess;
}

/** Runs a command to its end; a command still running after `timeoutMs` is killed and the promise rejects. */
export async function runXt(args: string[], opts: SpawnOptions & { timeoutMs?: number } = {}): Promise<RunResult> {
  const proc = spawnXt(args, opts);
  try {
    const info = await proc.waitForExit(opts.timeoutMs ?? 20_000);
    return { ...info, stdout: proc.stdout, stderr: proc.stderr, proc };
  } catch (err) {
    kill(proc, opts.detached ?? false);
    throw err;
  }
}

function kill(proc: XtProcess, group: boolean): void {
  if (!proc.alive()) return;
  try {
    if (group) process.kill(-proc.pid, 'SIGKILL');
    else proc.child.kill('SIGKILL');
  } catch {
    proc.child.kill('SIGKILL');
  }
}

/**
 * SIGKILLs every process spawnXt started that is still running (with its process group when detached) and waits
 * for each to be gone. For afterEach/afterAll: nothing outlives a test, whether it passed or not.
 */
export async function killAll(timeoutMs = 10_000): Promise<void> {
  const entries = [...live];
  for (const { proc, detached } of entries) kill(proc, detached);
  await Promise.all(entries.map(({ proc }) => proc.waitForExit(timeoutMs).catch(() => undefined)));
}

const tempDirs: string[] = [];

/** A fresh folder under the system temp folder, removed by removeTempDirs(). */
export function tempDir(prefix = 'xtconnect-proc-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const d of tempDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

/** A YAML scalar, quoted so that any URL or path stays one string. */
export function yamlString(s: string): string {
  return JSON.stringify(s);
}

export interface DaemonYaml {
  /** database.url; omitted for the embedded default. */
  url?: string;
  /** smtp.port on 127.0.0.1 with security: none; omitted for the outbox. */
  smtpPort?: number;
  dataDir: string;
  /** daemon.* keys; defaults suited to tests: fast polls and maintenance, short leases. */
  daemon?: Record<string, number | string>;
  extra?: string;
}

/** The text of a config file for a daemon started with spawnXt(['start', '--config', file]). */
export function daemonYaml(o: DaemonYaml): string {
  const daemon = { pollIntervalMs: 200, maintenanceIntervalSeconds: 1, leaseSeconds: 2, ...o.daemon };
  return [
    ...(o.url ? ['database:', `  url: ${yamlString(o.url)}`] : []),
    'daemon:',
    ...Object.entries(daemon).map(([k, v]) => `  ${k}: ${typeof v === 'string' ? yamlString(v) : v}`),
    ...(o.smtpPort ? ['smtp:', '  host: 127.0.0.1', `  port: ${o.smtpPort}`, '  security: none', '  connectionTimeoutMs: 5000'] : []),
    `dataDir: ${yamlString(o.dataDir)}`,
    ...(o.extra ? [o.extra] : []),
    '',
  ].join('\n');
}
