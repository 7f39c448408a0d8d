/**
 * File transfer throughput (issue 4): a 100 MB file down and up over loopback, FTP and SFTP, by xtconnect's own
 * transfer code (ftpDownload/ftpUpload, sftpDownload/sftpUpload: connect, log in, temporary name, size check,
 * rename) beside the system's curl (FTP) and OpenSSH sftp (SFTP) against the same server. Printed as MB/s and
 * the ratio xtconnect / system client (of the medians and of the best runs); target: at least 0.8.
 *
 * The servers are the test servers (test/transfer/servers.ts: ftp-srv, and ssh2's Server over a folder), run in
 * a child process so that the client being measured does not share its event loop with the server. The two
 * clients take turns, and each figure is the median of BENCH_TRANSFER_RUNS runs; each run has a time limit.
 *
 * Run: npx tsc -p bench/tsconfig.json && node dist-bench/bench/transfer.js
 *   BENCH_TRANSFER_MB (100), BENCH_TRANSFER_RUNS (7), BENCH_TRANSFER_LIMIT_MS (120000 per transfer)
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { silentLogger } from '../src/log';
import { parseEndpoints } from '../src/config';
import type { Endpoint } from '../src/transfer/endpoints';
import { ftpDownload, ftpUpload } from '../src/transfer/ftp';
import { sftpDownload, sftpUpload } from '../src/transfer/sftp';
import { removeTempDirs, tempDir } from '../test/support/tempDirs';
import { knownHostsLine, startFtp, startSftp, writePatternFile } from '../test/transfer/servers';
import { fmt, heading, table } from './lib/util';

const MB = Number(process.env.BENCH_TRANSFER_MB ?? 100);
const RUNS = Math.max(1, Math.min(20, Number(process.env.BENCH_TRANSFER_RUNS ?? 7)));
const LIMIT_MS = Number(process.env.BENCH_TRANSFER_LIMIT_MS ?? 120_000);
const BYTES = MB * 1024 * 1024;
const FILE = 'bench.bin';

interface ServerInfo {
  protocol: 'ftp' | 'sftp';
  port: number;
  root: string;
  user: string;
  password: string;
  fingerprint?: string;
  knownHosts?: string;
  clientKeyPath?: string;
}

/** Child process: one server over a fresh folder holding the test file, until the parent disconnects. */
async function serve(protocol: 'ftp' | 'sftp'): Promise<void> {
  const root = tempDir('xtc-bench-root-');
  await writePatternFile(path.join(root, FILE), BYTES, 1);
  let info: ServerInfo;
  let close: () => Promise<void>;
  if (protocol === 'ftp') {
    const s = await startFtp({ root });
    info = { protocol, port: s.port, root, user: s.user, password: s.password };
    close = () => s.close();
  } else {
    const s = await startSftp({ root });
    info = { protocol, port: s.port, root, user: s.user, password: s.password, fingerprint: s.hostKey.fingerprint,
      knownHosts: knownHostsLine(s.hostKey, s.port), clientKeyPath: s.clientKeyPath };
    close = () => s.close();
  }
  process.send!(info);
  process.once('disconnect', () => {
    void close().finally(() => {
      removeTempDirs();
      process.exit(0);
    });
  });
}

function startServer(protocol: 'ftp' | 'sftp'): Promise<{ child: ChildProcess; info: ServerInfo }> {
  const child = fork(__filename, ['--serve', protocol], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${protocol} server did not start within 60 s`)), 60_000);
    child.once('message', (m) => {
      clearTimeout(t);
      resolve({ child, info: m as ServerInfo });
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`${protocol} server exited with ${code}`));
    });
  });
}

function stopServer(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.disconnect();
  });
}

/** Runs a command to its end within the limit; rejects on a non-zero exit. */
function run(cmd: string, args: string[], input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), LIMIT_MS);
    p.once('error', reject);
    p.once('exit', (code, sig) => {
      clearTimeout(t);
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code ?? sig}: ${err.trim()}`));
    });
    if (input !== undefined) p.stdin!.end(input);
  });
}

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

async function timed(what: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await what();
  return performance.now() - start;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function mbps(ms: number): number {
  return BYTES / 1024 / 1024 / (ms / 1000);
}

type Transfer = (run: number) => Promise<void>;

interface Stat {
  median: number;
  best: number;
}

interface Row {
  protocol: string;
  direction: string;
  ours: Stat;
  theirs: Stat | null;
  tool: string;
}

/**
 * Runs xtconnect's transfer and the system client's in turn, RUNS times each, so that a change in the machine's
 * load during the benchmark hits both alike. Returns the median and the best MB/s of each: on a shared machine
 * other work only ever slows a run down, so the best run is the cleaner comparison, the median the typical one.
 */
async function measurePair(what: string, ours: Transfer, tool: string, theirs: Transfer | null): Promise<{ ours: Stat; theirs: Stat | null }> {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // Who goes first alternates too: a run right after the other's 100 MB file was deleted is not the same run.
    if (theirs && i % 2 === 1) b.push(mbps(await timed(() => theirs(i))));
    a.push(mbps(await timed(() => ours(i))));
    if (theirs && i % 2 === 0) b.push(mbps(await timed(() => theirs(i))));
  }
  const stat = (xs: number[]): Stat => ({ median: median(xs), best: Math.max(...xs) });
  const show = (xs: number[]): string => `${xs.map((x) => fmt(x, 1)).join(' / ')} MB/s`;
  console.log(`  ${what}, xtconnect: ${show(a)}`);
  if (theirs) console.log(`  ${what}, ${tool}: ${show(b)}`);
  return { ours: stat(a), theirs: theirs ? stat(b) : null };
}

function endpointFor(info: ServerInfo): Endpoint {
  const raw = info.protocol === 'ftp'
    ? { name: 'bench', protocol: 'ftp', host: '127.0.0.1', port: info.port, user: info.user, password: info.password, timeoutMs: 30_000 }
    : { name: 'bench', protocol: 'sftp', host: '127.0.0.1', port: info.port, user: info.user, privateKeyPath: info.clientKeyPath,
      hostKey: { fingerprint: info.fingerprint }, timeoutMs: 30_000 };
  return parseEndpoints([raw], 'bench', {})[0]!;
}

async function benchProtocol(protocol: 'ftp' | 'sftp', local: string, work: string): Promise<Row[]> {
  const { child, info } = await startServer(protocol);
  try {
    const ep = endpointFor(info);
    const log = silentLogger();
    const inbox = path.join(work, `inbox-${protocol}`);
    const signal = (): AbortSignal => AbortSignal.timeout(LIMIT_MS);
    const ours = protocol === 'ftp' ? { down: ftpDownload, up: ftpUpload } : { down: sftpDownload, up: sftpUpload };
    const oursDown: Transfer = async (i) => {
      const r = await ours.down(ep, '', { batchId: i + 1, pattern: FILE, inbox, ifExists: 'rename', afterDownload: 'keep', archiveDir: null, signal: signal(), log });
      if (r.files[0]?.bytes !== BYTES) throw new Error(`downloaded ${JSON.stringify(r.files)}, wanted ${BYTES} bytes`);
      fs.rmSync(inbox, { recursive: true, force: true });
    };
    const oursUp: Transfer = async (i) => {
      const r = await ours.up(ep, '', { batchId: i + 1, localPath: local, remoteName: `up-xt-${i}.bin`, signal: signal() });
      if (r.bytes !== BYTES) throw new Error(`uploaded ${r.bytes} bytes, wanted ${BYTES}`);
      fs.rmSync(path.join(info.root, `up-xt-${i}.bin`), { force: true });
    };

    let tool: string;
    let theirsDown: Transfer | null = null;
    let theirsUp: Transfer | null = null;
    if (protocol === 'ftp') {
      tool = 'curl';
      if (has('curl')) {
        const url = `ftp://${info.user}:${info.password}@127.0.0.1:${info.port}`;
        const out = path.join(work, 'curl.bin');
        theirsDown = async () => {
          await run('curl', ['-sS', '--fail', '--max-time', String(LIMIT_MS / 1000), '-o', out, `${url}/${FILE}`]);
          if (fs.statSync(out).size !== BYTES) throw new Error('curl downloaded a short file');
          fs.rmSync(out);
        };
        theirsUp = async (i) => {
          await run('curl', ['-sS', '--fail', '--max-time', String(LIMIT_MS / 1000), '-T', local, `${url}/up-curl-${i}.bin`]);
          fs.rmSync(path.join(info.root, `up-curl-${i}.bin`));
        };
      } else {
        console.log('  curl is not installed: no FTP reference figure');
      }
    } else {
      tool = 'OpenSSH sftp';
      if (has('sftp')) {
        const kh = path.join(work, 'known_hosts');
        fs.writeFileSync(kh, info.knownHosts + '\n');
        const args = ['-q', '-b', '-', '-P', String(info.port), '-i', info.clientKeyPath!, '-o', `UserKnownHostsFile=${kh}`,
          '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', `ConnectTimeout=${LIMIT_MS / 1000}`,
          `${info.user}@127.0.0.1`];
        const out = path.join(work, 'sftp.bin');
        theirsDown = async () => {
          await run('sftp', args, `get ${FILE} ${out}\n`);
          if (fs.statSync(out).size !== BYTES) throw new Error('sftp downloaded a short file');
          fs.rmSync(out);
        };
        theirsUp = async (i) => {
          await run('sftp', args, `put ${local} up-ossh-${i}.bin\n`);
          fs.rmSync(path.join(info.root, `up-ossh-${i}.bin`));
        };
      } else {
        console.log('  OpenSSH sftp is not installed (apt-get install openssh-client): no SFTP reference figure');
      }
    }
    const down = await measurePair(`${protocol} download`, oursDown, tool, theirsDown);
    const up = await measurePair(`${protocol} upload`, oursUp, tool, theirsUp);
    return [
      { protocol, direction: 'download', ours: down.ours, theirs: down.theirs, tool },
      { protocol, direction: 'upload', ours: up.ours, theirs: up.theirs, tool },
    ];
  } finally {
    await stopServer(child);
  }
}

export async function runTransfer(): Promise<Row[]> {
  heading(`file transfer: ${MB} MB over loopback, median of ${RUNS} run(s) each; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const work = tempDir('xtc-bench-transfer-');
  const local = path.join(work, FILE);
  try {
    await writePatternFile(local, BYTES, 1);
    const rows = [...(await benchProtocol('ftp', local, work)), ...(await benchProtocol('sftp', local, work))];
    console.log();
    const ratio = (r: Row, k: keyof Stat): number => (r.theirs === null ? NaN : r.ours[k] / r.theirs[k]);
    console.log(table(['protocol', 'direction', 'xtconnect MB/s (median, best)', 'system client', 'client MB/s (median, best)',
      'ratio (median)', 'ratio (best)', 'target 0.8'],
    rows.map((r) => [r.protocol, r.direction, `${fmt(r.ours.median, 1)}, ${fmt(r.ours.best, 1)}`, r.tool,
      r.theirs === null ? 'n/a' : `${fmt(r.theirs.median, 1)}, ${fmt(r.theirs.best, 1)}`, fmt(ratio(r, 'median'), 2), fmt(ratio(r, 'best'), 2),
      Number.isNaN(ratio(r, 'median')) ? 'n/a' : ratio(r, 'median') >= 0.8 ? 'met' : ratio(r, 'best') >= 0.8 ? 'met by best run only' : 'MISSED'])));
    return rows;
  } finally {
    removeTempDirs();
  }
}

if (require.main === module) {
  const i = process.argv.indexOf('--serve');
  if (i >= 0) {
    serve(process.argv[i + 1] as 'ftp' | 'sftp').catch((err) => {
      console.error(err);
      process.exit(1);
    });
  } else {
    runTransfer().catch((err) => {
      console.error(err);
      process.exitCode = 1;
    });
  }
}
