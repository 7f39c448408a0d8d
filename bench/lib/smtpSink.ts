/**
 * The benches' SMTP server: smtp-server (a devDependency) in a child process of its own, so that its CPU is not the
 * bench's. Plain SMTP on loopback offering STARTTLS with a self-signed certificate made by openssl, AUTH PLAIN/LOGIN
 * required and refused before STARTTLS, so no message can arrive without both. It counts each message by its
 * X-xtconnect-Batch-Id header, so that a bench can report a message lost or duplicated. Used by email.ts and
 * memory.ts.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';


export interface SinkCounts {
  /** Messages by X-xtconnect-Batch-Id value. */
  byId: Record<string, number>;
  total: number;
  /** Messages that arrived without TLS or without a login: must be none. */
  insecure: number;
  /** Messages with no X-xtconnect-Batch-Id header. */
  unnamed: number;
  /** The sink's own CPU so far, ms. */
  cpuMs: number;
  /** Connections opened (each a TLS handshake and a login): a pool that reconnects often costs both sides. */
  connections: number;
  /** Bytes of message data received. */
  bytes: number;
}

type SinkRequest = { op: 'counts' } | { op: 'reset' };

/** Runs in the child: smtp-server with STARTTLS and AUTH required, counting messages by their batch id header. */
async function runSink(): Promise<void> {
  const { SMTPServer } = require('smtp-server') as typeof import('smtp-server');
  const key = fs.readFileSync(process.env.SINK_KEY!);
  const cert = fs.readFileSync(process.env.SINK_CERT!);
  const empty = (): SinkCounts => ({ byId: {}, total: 0, insecure: 0, unnamed: 0, cpuMs: 0, connections: 0, bytes: 0 });
  let counts = empty();
  const server = new SMTPServer({
    secure: false,
    key,
    cert,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: false,
    // AUTH only after STARTTLS ("538 Must issue a STARTTLS command first"); MAIL only after AUTH.
    allowInsecureAuth: false,
    logger: false,
    closeTimeout: 1000,
    maxClients: 100,
    onConnect(_session, cb) {
      counts.connections++;
      cb();
    },
    onAuth(auth, _session, cb) {
      if (auth.username === process.env.SINK_USER && auth.password === process.env.SINK_PASS) return cb(null, { user: auth.username });
      const err = new Error('Invalid username or password') as Error & { responseCode: number };
      err.responseCode = 535;
      return cb(err);
    },
    onData(stream, session, cb) {
      // Only the header block is needed: keep bytes until the blank line, then just drain.
      let head = '';
      let done = false;
      stream.on('data', (c: Buffer) => {
        counts.bytes += c.length;
        if (done) return;
        head += c.toString('latin1');
        if (head.includes('\r\n\r\n')) done = true;
      });
      stream.on('end', () => {
        const block = head.split('\r\n\r\n')[0]!;
        const m = /^X-xtconnect-Batch-Id:[ \t]*(.+?)[ \t]*$/im.exec(block);
        counts.total++;
        if (!session.secure || !session.user) counts.insecure++;
        if (m) counts.byId[m[1]!] = (counts.byId[m[1]!] ?? 0) + 1;
        else counts.unnamed++;
        cb();
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as { port: number }).port;
  // Reset with the counts: each system's run reports the sink's CPU during that run only (it was cumulative, so
  // the second system seemed to cost the sink more).
  let cpu0 = process.cpuUsage();
  process.on('message', (req: SinkRequest) => {
    if (req.op === 'reset') {
      counts = empty();
      cpu0 = process.cpuUsage();
    }
    const u = process.cpuUsage(cpu0);
    process.send!({ ...counts, cpuMs: (u.user + u.system) / 1000 });
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ port });
}

export interface Sink {
  port: number;
  certPath: string;
  /** What the server is, for the heading. */
  name: string;
  counts(): Promise<SinkCounts>;
  reset(): Promise<SinkCounts>;
  stop(): void;
}

/** A self-signed certificate for 127.0.0.1 (openssl), then the sink in a child process. */
export async function startSink(dir: string, login: { user: string; pass: string }): Promise<Sink> {
  const keyPath = path.join(dir, 'sink-key.pem');
  const certPath = path.join(dir, 'sink-cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyPath,
    '-out', certPath, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'pipe' });
  const child: ChildProcess = fork(__filename, ['--smtp-sink'], { env: { ...process.env, SINK_KEY: keyPath, SINK_CERT: certPath, SINK_USER: login.user, SINK_PASS: login.pass }, stdio: 'inherit' });
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('the SMTP sink did not start within 10 s')), 10_000);
    child.once('message', (m: { port: number }) => { clearTimeout(t); resolve(m.port); });
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`the SMTP sink exited (${code})`)); });
  });
  const ask = (op: SinkRequest['op']) => new Promise<SinkCounts>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('the SMTP sink did not answer within 10 s')), 10_000);
    child.once('message', (m: SinkCounts) => { clearTimeout(t); resolve(m); });
    child.send({ op });
  });
  const name = `smtp-server ${require('smtp-server/package.json').version} in a child process`;
  return { port, certPath, name, counts: () => ask('counts'), reset: () => ask('reset'), stop: () => void child.kill('SIGTERM') };
}

if (require.main === module && process.argv.includes('--smtp-sink')) {
  runSink().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
