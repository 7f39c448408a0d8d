import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createNotifier } from '../../src/service/notify';
import { writeConfigFile } from '../support/config';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { daemonYaml, killAll, removeTempDirs, spawnXt, tempDir } from '../support/proc';
import { startTcpProxy, type TcpProxy } from '../support/tcpProxy';
import { recordingLogger } from '../support/recordingLogger';
import { waitFor } from '../support/wait';

// sd_notify through systemd-notify(1), received on a real unix datagram socket standing in for PID 1's
// NOTIFY_SOCKET. python3 binds it (Node has no unix datagram sockets) and prints each datagram as a JSON line.

const RECEIVER = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps({"listening": True}), flush=True)
while True:
    # A plain recv drops the pipe systemd-notify passes with BARRIER=1, closing it: the barrier is released at once.
    print(json.dumps({"message": s.recv(65536).decode("utf-8", "replace")}), flush=True)
`;

type Message = Record<string, string>;

interface Receiver {
  socket: string;
  /** Every message but the BARRIER=1 ones, in arrival order. */
  messages: Message[];
  close(): void;
}

async function startReceiver(): Promise<Receiver> {
  const socket = path.join(tempDir('xtconnect-notify-'), 'notify.sock');
  const child: ChildProcess = spawn('python3', ['-c', RECEIVER, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: Message[] = [];
  let listening = false;
  let partial = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const parsed = JSON.parse(line) as { listening?: boolean; message?: string };
      if (parsed.listening) listening = true;
      if (parsed.message === undefined || parsed.message === 'BARRIER=1') continue;
      const fields: Message = {};
      for (const f of parsed.message.split('\n')) {
        const at = f.indexOf('=');
        fields[f.slice(0, at)] = f.slice(at + 1);
      }
      messages.push(fields);
    }
  });
  await waitFor('the notify socket receiver to listen', () => listening || child.exitCode !== null);
  if (!listening) throw new Error('python3 could not bind the notify socket');
  return { socket, messages, close: () => child.kill('SIGKILL') };
}


const receivers: Receiver[] = [];
async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  receivers.push(r);
  return r;
}

afterEach(async () => {
  await killAll();
  for (const r of receivers.splice(0)) r.close();
});
afterAll(() => removeTempDirs());

describe('createNotifier', () => {
  it('does nothing without NOTIFY_SOCKET: no program is run', async () => {
    const dir = tempDir('xtconnect-notify-');
    const marker = path.join(dir, 'ran');
    const command = path.join(dir, 'fake-notify');
    fs.writeFileSync(command, `#!/bin/sh\ntouch ${JSON.stringify(marker)}\n`, { mode: 0o755 });
    const { log, lines } = recordingLogger();
    const n = createNotifier({ env: { PATH: process.env.PATH }, log, command });
    expect(n.enabled).toBe(false);
    await n.ready('ready');
    await n.status('s');
    await n.watchdog('w');
    await n.extendTimeout(1000, 'e');
    await n.stopping('bye');
    await n.flush();
    expect(fs.existsSync(marker)).toBe(false);
    expect(lines).toEqual([]);

    // The same fake, with a socket set, is run: the check above could have failed.
    const on = createNotifier({ env: { PATH: process.env.PATH, NOTIFY_SOCKET: path.join(dir, 'nobody.sock') }, log, command });
    await on.status('s');
    expect(fs.existsSync(marker)).toBe(true);
  });

  it('sends each message through systemd-notify, in order, with MAINPID on READY', async () => {
    const r = await receiver();
    const { log, lines } = recordingLogger();
    const n = createNotifier({ env: { PATH: process.env.PATH, NOTIFY_SOCKET: r.socket }, log, pid: 4242 });
    expect(n.enabled).toBe(true);
    void n.status('connecting');
    void n.extendTimeout(12_345, 'waiting for database:\nECONNREFUSED');
    void n.ready('running 0 jobs');
    void n.watchdog('running 1 job');
    await n.stopping('stopping');
    await waitFor('five messages', () => r.messages.length >= 5);
    expect(r.messages).toEqual([
      { STATUS: 'connecting' },
      // A newline in a status would start a field of its own.
      { EXTEND_TIMEOUT_USEC: '12345000', STATUS: 'waiting for database: ECONNREFUSED' },
      { MAINPID: '4242', READY: '1', STATUS: 'running 0 jobs' },
      { WATCHDOG: '1', STATUS: 'running 1 job' },
      { STOPPING: '1', STATUS: 'stopping' },
    ]);
    expect(lines).toEqual([]);
  });

  it('does not queue a watchdog ping behind one still waiting to be sent', async () => {
    const r = await receiver();
    const n = createNotifier({ env: { PATH: process.env.PATH, NOTIFY_SOCKET: r.socket }, log: recordingLogger().log });
    for (let i = 0; i < 10; i++) void n.watchdog(`ping ${i}`);
    await n.status('after');
    await waitFor('the status after the pings', () => r.messages.some((m) => m.STATUS === 'after'));
    expect(r.messages).toEqual([{ WATCHDOG: '1', STATUS: 'ping 0' }, { STATUS: 'after' }]);
  });

  it('says once, and clearly, when systemd-notify cannot be run', async () => {
    const { log, lines } = recordingLogger();
    const n = createNotifier({ env: { PATH: '/nonexistent', NOTIFY_SOCKET: '/run/nothing.sock' }, log, command: 'no-such-systemd-notify' });
    await n.ready('r');
    await n.watchdog();
    await n.watchdog();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error could not notify systemd with no-such-systemd-notify .*NotifyAccess=all/);
  });
});

describe('xtconnect start under a notify socket', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;

  beforeAll(async () => {
    db = await createTestDatabase();
    const direct = new URL(db.url);
    proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
  });
  afterAll(async () => {
    await killAll();
    await proxy.close();
    await db.drop();
  });

  it('is READY only once the database answers, pings the watchdog through an outage, says STOPPING on SIGTERM', async () => {
    const r = await receiver();
    const dir = tempDir('xtconnect-notify-');
    const file = writeConfigFile(dir, daemonYaml({ url: proxy.url(db.url), dataDir: dir, daemon: { leaseSeconds: 10 } }));
    await proxy.cut();
    // A 0.9 s watchdog: a ping every 0.3 s.
    const proc = spawnXt(['start', '--config', file], { env: { NOTIFY_SOCKET: r.socket, WATCHDOG_USEC: '900000' } });

    // Database down: alive and saying so, start-up timeout pushed back, but not ready.
    await proc.waitForLine(/database unreachable .*waiting for it/);
    await waitFor('a second attempt reported', () => r.messages.some((m) => /^waiting for database \(2 attempt/.test(m.STATUS ?? '')));
    const waiting = r.messages.filter((m) => m.EXTEND_TIMEOUT_USEC);
    expect(waiting.length).toBeGreaterThanOrEqual(2);
    for (const m of waiting) expect(Number(m.EXTEND_TIMEOUT_USEC)).toBeGreaterThan(20_000_000);
    expect(r.messages.some((m) => m.READY)).toBe(false);
    expect(r.messages.some((m) => m.WATCHDOG)).toBe(false);

    proxy.restore();
    const ready = await waitFor('READY=1', () => r.messages.find((m) => m.READY === '1'), 20_000);
    expect(ready.MAINPID).toBe(String(proc.pid));
    expect(ready.STATUS).toMatch(/^running 0 jobs/);
    // Ready means registered and claiming.
    const daemons = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM xtbatch.daemon');
    expect(daemons.rows[0]!.n).toBe(1);
    const readyAt = r.messages.indexOf(ready);
    await waitFor('three watchdog pings', () => r.messages.slice(readyAt).filter((m) => m.WATCHDOG === '1').length >= 3);

    // A job: its outcome shows in the STATUS= the pings carry.
    const { rows } = await db.pool.query<{ id: number }>(
      `SELECT xtbatch.submitEmailToBatch('f@x.y', 'to@example.com', NULL, 'notify test', 'body', NULL, NULL::timestamp, false, NULL, NULL) AS id`,
    );
    await waitFor('a ping reporting the job done', () => r.messages.some((m) => m.WATCHDOG && /; 1 done, 0 failed/.test(m.STATUS ?? '')));
    const job = await db.pool.query<{ batch_completed: string | null }>('SELECT batch_completed FROM xtbatch.batch WHERE batch_id = $1', [rows[0]!.id]);
    expect(job.rows[0]!.batch_completed).not.toBeNull();

    // The database goes away while running: the loop backs off, the pings go on (an outage is not a hang).
    const mark = proc.lines.length;
    await proxy.cut();
    await proc.waitForLine(/database unreachable while/, { from: mark, timeoutMs: 20_000 });
    const atOutage = r.messages.length;
    await waitFor('five pings during the outage', () => r.messages.slice(atOutage).filter((m) => m.WATCHDOG === '1').length >= 5, 10_000);
    expect(proc.alive()).toBe(true);
    proxy.restore();

    proc.signal('SIGTERM');
    expect(await proc.waitForExit(20_000)).toEqual({ code: 0, signal: null });
    const stopping = r.messages.findIndex((m) => m.STOPPING === '1');
    expect(stopping).toBeGreaterThan(readyAt);
    expect(r.messages[stopping]!.STATUS).toMatch(/^stopping: draining 0 running job/);
    // Nothing after STOPPING=1: no ping that would re-arm a watchdog while draining.
    expect(r.messages.slice(stopping + 1).filter((m) => m.WATCHDOG || m.READY)).toEqual([]);
  });
});
