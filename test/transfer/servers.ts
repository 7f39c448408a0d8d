/**
 * Real file-transfer servers on 127.0.0.1 for the transfer tests and the benchmark: ftp-srv (plain, explicit and
 * implicit TLS) and an SFTP server built on ssh2's Server over a folder. Both can misbehave on request the way
 * real servers and networks do: drop the connection after N bytes of a transfer (once), stall a transfer, or list
 * names a hostile server would send.
 *
 * No jest globals here: bench/transfer.ts runs these servers in a child process.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Transform, Writable, type Readable } from 'node:stream';
import { FileSystem, FtpSrv, type FtpConnection } from 'ftp-srv';
import { Server as SshServer, utils as sshUtils, type Connection, type ParsedKey, type SFTPWrapper } from 'ssh2';
import { sshFingerprint } from '../../src/transfer/sftp';
import { tempDir } from '../support/tempDirs';

export type Direction = 'download' | 'upload';

/** What a test can make a server do to the next transfer(s). */
export interface Misbehaviour {
  /** Extra names in every listing of the root folder, as a hostile or broken server would send them. */
  fakeNames: string[];
  /** Drop the connection (control and data) once after this many bytes of a transfer in this direction. */
  dropAfter(bytes: number, direction: Direction): void;
  /** FTP: end the next download after this many bytes, once, and report success anyway (226), as a broken server might. */
  truncateNextDownload(bytes: number): void;
  /** How many times the server has dropped a connection on request. */
  readonly drops: number;
  /** While true, file contents are never sent or acknowledged: the transfer hangs until the client gives up. */
  stall: boolean;
  /** Client connections open right now. */
  readonly open: number;
  /** Client connections accepted since the start. */
  readonly connections: number;
}

class Hooks implements Misbehaviour {
  fakeNames: string[] = [];
  stall = false;
  open = 0;
  connections = 0;
  drops = 0;
  private armed: { bytes: number; direction: Direction } | null = null;

  truncateAt: number | null = null;

  dropAfter(bytes: number, direction: Direction): void {
    this.armed = { bytes, direction };
  }

  truncateNextDownload(bytes: number): void {
    this.truncateAt = bytes;
  }

  /** Bytes at which this transfer must be cut, or null; disarms, since a drop happens once. */
  take(direction: Direction): number | null {
    if (!this.armed || this.armed.direction !== direction) return null;
    const { bytes } = this.armed;
    this.armed = null;
    return bytes;
  }
}

/** A self-signed certificate for 127.0.0.1 and localhost, made with the openssl command. */
export interface TlsMaterial {
  key: string;
  cert: string;
  certPath: string;
}

export function makeCertificate(dir: string, cn = 'localhost'): TlsMaterial {
  const keyPath = path.join(dir, `${cn}-key.pem`);
  const certPath = path.join(dir, `${cn}-cert.pem`);
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', `/CN=${cn}`,
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`could not make a test certificate with openssl (is it installed?): ${(err as Error).message}`);
  }
  return { key: fs.readFileSync(keyPath, 'utf8'), cert: fs.readFileSync(certPath, 'utf8'), certPath };
}

/** ftp-srv's log interface, silenced. */
function quietLog(): unknown {
  const noop = (): void => undefined;
  const log = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, fatal: noop, child: () => log };
  return log;
}

/** A stat-like object that ftp-srv's "ls" formatter turns into a listing line for a file that does not exist. */
function fakeStat(name: string): Record<string, unknown> {
  return { name, size: 11, mtime: new Date(), mode: 0o100644, uid: 1, gid: 1, isDirectory: () => false };
}

/** ftp-srv's folder-backed file system with the test's hooks in listing, reading and writing. */
class HookedFileSystem extends FileSystem {
  constructor(connection: FtpConnection, opts: { root: string; cwd: string }, private readonly hooks: Hooks) {
    super(connection, opts);
  }

  private dropConnection(): void {
    this.hooks.drops++;
    const conn = this.connection as unknown as { connector?: { socket?: net.Socket }; commandSocket?: net.Socket };
    conn.connector?.socket?.destroy();
    conn.commandSocket?.destroy();
  }

  /** The data connection of the transfer in progress: it exists by the time ftp-srv asks the file system. */
  private dataSocket(): net.Socket | undefined {
    const socket = (this.connection as unknown as { connector?: { socket?: net.Socket } }).connector?.socket;
    // Same reason as for the control connection: with Nagle on, the tail of every 64 KiB write (loopback's MSS is
    // 65483 bytes) waits for the client's ACK.
    socket?.setNoDelay?.(true);
    return socket;
  }

  override async list(p = '.'): Promise<unknown> {
    this.dataSocket();
    const real = (await super.list(p)) as unknown[];
    const isRoot = path.posix.resolve('/', this.cwd, p) === '/';
    return isRoot ? [...real, ...this.hooks.fakeNames.map(fakeStat)] : real;
  }

  override async read(fileName: string, opts?: { start?: unknown }): Promise<unknown> {
    this.dataSocket();
    const { stream, clientPath } = (await super.read(fileName, opts)) as { stream: Readable; clientPath: string };
    const cutAt = this.hooks.take('download');
    const endAt = this.hooks.truncateAt;
    this.hooks.truncateAt = null;
    if (cutAt === null && endAt === null && !this.hooks.stall) return { stream, clientPath };
    // ftp-srv stops reading the control connection during a transfer; a stalled one must still notice the client leave.
    if (this.hooks.stall) (this.connection as unknown as { commandSocket?: net.Socket }).commandSocket?.resume();
    let sent = 0;
    const hooks = this.hooks;
    const self = this;
    const gate = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        if (hooks.stall) return; // never calls back: the transfer hangs
        if (endAt !== null && sent + chunk.length >= endAt) {
          this.push(chunk.subarray(0, Math.max(0, endAt - sent)));
          sent = endAt;
          this.push(null);
          stream.unpipe(this);
          stream.destroy();
          return cb();
        }
        if (cutAt !== null && sent + chunk.length >= cutAt) {
          this.push(chunk.subarray(0, Math.max(0, cutAt - sent)));
          sent = cutAt;
          setImmediate(() => self.dropConnection());
          return;
        }
        sent += chunk.length;
        cb(null, chunk);
      },
    });
    stream.pipe(gate);
    return { stream: gate, clientPath };
  }

  override write(fileName: string, opts?: { append?: boolean; start?: unknown }): unknown {
    const out = super.write(fileName, opts) as { stream: NodeJS.WritableStream; clientPath: string };
    const cutAt = this.hooks.take('upload');
    const data = this.dataSocket();
    if (cutAt !== null && data) {
      let got = 0;
      data.on('data', (chunk: Buffer) => {
        got += chunk.length;
        if (got >= cutAt && got - chunk.length < cutAt) setImmediate(() => this.dropConnection());
      });
    }
    if (this.hooks.stall) {
      // The file exists (empty) under the name the client gave, but no write ever completes: ftp-srv's pipe
      // from the data connection backs up and the client's sends block, as with a server whose disk hangs.
      (this.connection as unknown as { commandSocket?: net.Socket }).commandSocket?.resume();
      data?.once('close', () => out.stream.end());
      return { stream: new Writable({ write: () => undefined }), clientPath: out.clientPath };
    }
    return out;
  }
}

export interface TestFtp extends Misbehaviour {
  port: number;
  /** The folder the test user sees as "/". */
  root: string;
  user: string;
  password: string;
  tls: TlsMaterial | null;
  close(): Promise<void>;
}

export interface FtpOptions {
  /** Explicit (AUTH TLS on the normal port) or implicit (TLS from the first byte) FTPS. */
  tls?: 'explicit' | 'implicit';
  /** Folder for the certificate; default: a temporary folder. */
  certDir?: string;
  /** The server's key and certificate (chain) instead of a self-signed one made here (a private CA's, say). */
  cert?: { key: string; cert: string };
  root?: string;
  user?: string;
  password?: string;
}

/** A real FTP server (ftp-srv) on 127.0.0.1, passive mode, one user. */
export async function startFtp(opts: FtpOptions = {}): Promise<TestFtp> {
  const root = opts.root ?? tempDir('xtc-ftp-root-');
  const user = opts.user ?? 'edi';
  const password = opts.password ?? 'edi-secret';
  const tls = !opts.tls ? null : opts.cert ? { ...opts.cert, certPath: '' } : makeCertificate(opts.certDir ?? tempDir('xtc-ftp-cert-'));
  const hooks = new Hooks();
  // A range of its own per server, so parallel test files do not keep colliding on passive ports.
  const pasvMin = 20_000 + crypto.randomInt(0, 40) * 1000;
  const sigListeners = new Map((['SIGTERM', 'SIGINT', 'SIGQUIT'] as const).map((s) => [s, new Set(process.listeners(s))]));
  const server = new FtpSrv({
    url: `${opts.tls === 'implicit' ? 'ftps' : 'ftp'}://127.0.0.1:0`,
    pasv_url: '127.0.0.1',
    pasv_min: pasvMin,
    pasv_max: pasvMin + 999,
    tls: tls ? { key: tls.key, cert: tls.cert } : false,
    anonymous: false,
    greeting: ['xtconnect test FTP server'],
    log: quietLog(),
  });
  // ftp-srv makes every server quit the whole process on SIGTERM/SIGINT; a test runner's process is not its own.
  for (const [sig, before] of sigListeners) {
    for (const l of process.listeners(sig)) if (!before.has(l)) process.removeListener(sig, l as () => void);
  }
  server.on('login', ({ connection, username, password: pass }, resolve, reject) => {
    if (username !== user || pass !== password) return reject(new Error('Login incorrect.'));
    resolve({ fs: new HookedFileSystem(connection, { root, cwd: '/' }, hooks) });
  });
  server.on('client-error', () => undefined);
  const raw = server as unknown as { server: net.Server; on: (ev: string, f: (e: { connection: { commandSocket?: net.Socket } }) => void) => void };
  raw.on('connect', ({ connection }) => {
    // ftp-srv leaves Nagle on, so each reply waits for the client's delayed ACK (about 40 ms a command on
    // Linux); real servers answer at once, and the benchmark must not measure this test server's quirk.
    connection.commandSocket?.setNoDelay(true);
    hooks.connections++;
    hooks.open++;
  });
  raw.on('disconnect', () => {
    hooks.open--;
  });
  await server.listen();
  const port = (raw.server.address() as net.AddressInfo).port;
  return Object.assign(hooks, {
    port,
    root,
    user,
    password,
    tls,
    async close() {
      await server.close();
    },
  });
}

export interface SshKeyPair {
  private: string;
  public: string;
  /** The public key's wire form. */
  blob: Buffer;
  /** "SHA256:..." as ssh-keygen -lf prints it. */
  fingerprint: string;
  type: string;
}

export function makeSshKey(type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519'): SshKeyPair {
  const generate = () => (type === 'rsa' ? sshUtils.generateKeyPairSync('rsa', { bits: 2048 }) : type === 'ecdsa'
    ? sshUtils.generateKeyPairSync('ecdsa', { bits: 256 }) : sshUtils.generateKeyPairSync('ed25519'));
  // ssh2's generator strips leading zero bytes of an ed25519 public key, so about 1 key in 256 cannot be parsed
  // back (mscdex/ssh2#1390, #1513): a test server then fails to start at random. Such a key is made again.
  let k = generate();
  for (let tries = 1; tries < 20 && [k.private, k.public].some((t) => sshUtils.parseKey(t) instanceof Error); tries++) k = generate();
  const [keyType, b64] = k.public.split(' ');
  const blob = Buffer.from(b64!, 'base64');
  return { private: k.private, public: k.public, blob, fingerprint: sshFingerprint(blob), type: keyType! };
}

/** A known_hosts line for this key at 127.0.0.1:port, as ssh-keyscan would write it. */
export function knownHostsLine(key: SshKeyPair, port: number, host = '127.0.0.1'): string {
  const name = port === 22 ? host : `[${host}]:${port}`;
  return `${name} ${key.type} ${key.blob.toString('base64')}`;
}

/** The same line with the host name hashed, as with HashKnownHosts yes. */
export function hashedKnownHostsLine(key: SshKeyPair, port: number, host = '127.0.0.1'): string {
  const name = port === 22 ? host : `[${host}]:${port}`;
  const salt = crypto.randomBytes(20);
  const hash = crypto.createHmac('sha1', salt).update(name).digest();
  return `|1|${salt.toString('base64')}|${hash.toString('base64')} ${key.type} ${key.blob.toString('base64')}`;
}

export interface TestSftp extends Misbehaviour {
  port: number;
  root: string;
  user: string;
  password: string;
  hostKey: SshKeyPair;
  /** A key pair whose public half the server accepts for `user` (the private half is in clientKeyPath, mode 0600). */
  clientKey: SshKeyPair;
  clientKeyPath: string;
  /** Replaces the host key for connections from now on (the server was reinstalled, or is an impostor). */
  setHostKey(key: SshKeyPair): void;
  close(): Promise<void>;
}

export interface SftpOptions {
  root?: string;
  user?: string;
  password?: string;
  hostKey?: SshKeyPair;
  /** Where to write the client's private key; default: a temporary folder. */
  keyDir?: string;
}

const { OPEN_MODE, STATUS_CODE, flagsToString } = sshUtils.sftp;

function statusFor(err: unknown): number {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return STATUS_CODE.NO_SUCH_FILE;
  if (code === 'EACCES' || code === 'EPERM') return STATUS_CODE.PERMISSION_DENIED;
  return STATUS_CODE.FAILURE;
}

function attrsOf(st: fs.Stats): { mode: number; uid: number; gid: number; size: number; atime: number; mtime: number } {
  return { mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, atime: Math.floor(st.atimeMs / 1000), mtime: Math.floor(st.mtimeMs / 1000) };
}

function longname(name: string, st: { mode: number; size: number; mtime: number }): string {
  const type = (st.mode & 0o170000) === 0o040000 ? 'd' : (st.mode & 0o170000) === 0o120000 ? 'l' : '-';
  const date = new Date(st.mtime * 1000).toDateString().slice(4);
  return `${type}rw-r--r--    1 edi      edi      ${String(st.size).padStart(10)} ${date} ${name}`;
}

type Handle = { kind: 'file'; fd: number; cut: number | null; moved: number } | { kind: 'dir'; dir: string; done: boolean };

/** Serves one SFTP session over `root`, as OpenSSH's sftp-server would (RENAME refuses an existing target). */
function serveSftp(sftp: SFTPWrapper, root: string, hooks: Hooks, drop: () => void): void {
  const handles = new Map<number, Handle>();
  let next = 1;
  const real = (p: string): string => path.join(root, path.posix.normalize(path.posix.join('/', p)));
  const handleOf = (h: Buffer): Handle | undefined => (h.length === 4 ? handles.get(h.readUInt32BE(0)) : undefined);
  const newHandle = (h: Handle): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(next, 0);
    handles.set(next++, h);
    return b;
  };
  const fail = (id: number, err: unknown): void => {
    sftp.status(id, statusFor(err), (err as Error).message);
  };

  sftp.on('REALPATH', (id, p) => {
    const norm = path.posix.normalize(path.posix.join('/', p));
    fs.stat(real(norm), (err) => (err ? fail(id, err) : sftp.name(id, [{ filename: norm, longname: norm, attrs: {} as never }])));
  });
  const stat = (fn: typeof fs.stat) => (id: number, p: string) => {
    fn(real(p), (err, st) => (err ? fail(id, err) : sftp.attrs(id, attrsOf(st))));
  };
  sftp.on('STAT', stat(fs.stat));
  sftp.on('LSTAT', stat(fs.lstat as typeof fs.stat));
  sftp.on('OPEN', (id, filename, flags) => {
    const mode = flagsToString(flags);
    if (!mode) return sftp.status(id, STATUS_CODE.OP_UNSUPPORTED);
    fs.open(real(filename), mode, (err, fd) => {
      if (err) return fail(id, err);
      const direction: Direction = flags & OPEN_MODE.WRITE ? 'upload' : 'download';
      sftp.handle(id, newHandle({ kind: 'file', fd, cut: hooks.take(direction), moved: 0 }));
    });
  });
  const count = (h: Extract<Handle, { kind: 'file' }>, n: number): boolean => {
    h.moved += n;
    if (h.cut !== null && h.moved >= h.cut) {
      h.cut = null;
      hooks.drops++;
      drop();
      return true;
    }
    return false;
  };
  sftp.on('READ', (id, handle, offset, length) => {
    const h = handleOf(handle);
    if (!h || h.kind !== 'file') return sftp.status(id, STATUS_CODE.FAILURE);
    if (hooks.stall) return;
    const buf = Buffer.allocUnsafe(length);
    fs.read(h.fd, buf, 0, length, offset, (err, n) => {
      if (err) return fail(id, err);
      if (n === 0) return sftp.status(id, STATUS_CODE.EOF);
      if (count(h, n)) return;
      sftp.data(id, buf.subarray(0, n));
    });
  });
  sftp.on('WRITE', (id, handle, offset, data) => {
    const h = handleOf(handle);
    if (!h || h.kind !== 'file') return sftp.status(id, STATUS_CODE.FAILURE);
    if (hooks.stall) return;
    fs.write(h.fd, data, 0, data.length, offset, (err) => {
      if (err) return fail(id, err);
      if (count(h, data.length)) return;
      sftp.status(id, STATUS_CODE.OK);
    });
  });
  sftp.on('FSTAT', (id, handle) => {
    const h = handleOf(handle);
    if (!h || h.kind !== 'file') return sftp.status(id, STATUS_CODE.FAILURE);
    fs.fstat(h.fd, (err, st) => (err ? fail(id, err) : sftp.attrs(id, attrsOf(st))));
  });
  sftp.on('FSETSTAT', (id) => sftp.status(id, STATUS_CODE.OK));
  sftp.on('SETSTAT', (id) => sftp.status(id, STATUS_CODE.OK));
  sftp.on('CLOSE', (id, handle) => {
    const h = handleOf(handle);
    if (!h) return sftp.status(id, STATUS_CODE.FAILURE);
    handles.delete(handle.readUInt32BE(0));
    if (h.kind === 'dir') return sftp.status(id, STATUS_CODE.OK);
    fs.close(h.fd, (err) => (err ? fail(id, err) : sftp.status(id, STATUS_CODE.OK)));
  });
  sftp.on('OPENDIR', (id, p) => {
    fs.stat(real(p), (err, st) => {
      if (err) return fail(id, err);
      if (!st.isDirectory()) return sftp.status(id, STATUS_CODE.FAILURE, 'not a directory');
      sftp.handle(id, newHandle({ kind: 'dir', dir: p, done: false }));
    });
  });
  sftp.on('READDIR', (id, handle) => {
    const h = handleOf(handle);
    if (!h || h.kind !== 'dir') return sftp.status(id, STATUS_CODE.FAILURE);
    if (h.done) return sftp.status(id, STATUS_CODE.EOF);
    h.done = true;
    const dir = real(h.dir);
    const isRoot = path.posix.normalize(path.posix.join('/', h.dir)) === '/';
    let names: Array<{ filename: string; longname: string; attrs: ReturnType<typeof attrsOf> }>;
    try {
      names = fs.readdirSync(dir).map((n) => {
        const a = attrsOf(fs.lstatSync(path.join(dir, n)));
        return { filename: n, longname: longname(n, a), attrs: a };
      });
    } catch (err) {
      return fail(id, err);
    }
    if (isRoot) {
      for (const n of hooks.fakeNames) {
        const a = { mode: 0o100644, uid: 1000, gid: 1000, size: 11, atime: 0, mtime: Math.floor(Date.now() / 1000) };
        names.push({ filename: n, longname: longname(n, a), attrs: a });
      }
    }
    sftp.name(id, names as never);
  });
  sftp.on('REMOVE', (id, p) => fs.unlink(real(p), (err) => (err ? fail(id, err) : sftp.status(id, STATUS_CODE.OK))));
  sftp.on('RMDIR', (id, p) => fs.rmdir(real(p), (err) => (err ? fail(id, err) : sftp.status(id, STATUS_CODE.OK))));
  sftp.on('MKDIR', (id, p) => fs.mkdir(real(p), (err) => (err ? fail(id, err) : sftp.status(id, STATUS_CODE.OK))));
  sftp.on('RENAME', (id, from, to) => {
    // link()+unlink() like OpenSSH's sftp-server: an existing target makes the rename fail.
    fs.link(real(from), real(to), (err) => {
      if (err) return fail(id, err);
      fs.unlink(real(from), (err2) => (err2 ? fail(id, err2) : sftp.status(id, STATUS_CODE.OK)));
    });
  });
  // OpenSSH's client waits for the server to close the channel after its own EOF; ssh2 leaves that to us.
  sftp.on('end', () => sftp.end());
  sftp.on('close', () => {
    for (const h of handles.values()) if (h.kind === 'file') fs.close(h.fd, () => undefined);
    handles.clear();
  });
}

/**
 * A real SFTP server (ssh2's Server) on 127.0.0.1 over a folder: password and public-key login for one user, a
 * host key generated for it. Sockets are accepted by a plain TCP server of our own and handed to ssh2, so a
 * test can cut one the way a network does.
 */
export async function startSftp(opts: SftpOptions = {}): Promise<TestSftp> {
  const root = opts.root ?? tempDir('xtc-sftp-root-');
  const user = opts.user ?? 'edi';
  const password = opts.password ?? 'edi-secret';
  let hostKey = opts.hostKey ?? makeSshKey('ed25519');
  const clientKey = makeSshKey('ed25519');
  const keyDir = opts.keyDir ?? tempDir('xtc-sftp-keys-');
  const clientKeyPath = path.join(keyDir, 'client_ed25519');
  fs.writeFileSync(clientKeyPath, clientKey.private, { mode: 0o600 });
  const allowed = sshUtils.parseKey(clientKey.public) as ParsedKey;
  const hooks = new Hooks();
  const sockets = new Set<net.Socket>();

  const makeSsh = (): SshServer => new SshServer({ hostKeys: [hostKey.private] }, (client: Connection) => {
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => {
      if (ctx.username !== user) return ctx.reject(['password', 'publickey']);
      if (ctx.method === 'password') return ctx.password === password ? ctx.accept() : ctx.reject(['password', 'publickey']);
      if (ctx.method === 'publickey' && ctx.key.algo === allowed.type && ctx.key.data.equals(allowed.getPublicSSH())) {
        if (!ctx.signature) return ctx.accept();
        return allowed.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) === true ? ctx.accept() : ctx.reject();
      }
      ctx.reject(['password', 'publickey']);
    });
    client.on('ready', () => {
      client.on('session', (accept) => {
        const session = accept();
        session.on('sftp', (acceptSftp) => {
          const sftp = acceptSftp();
          serveSftp(sftp, root, hooks, () => {
            for (const s of sockets) s.resetAndDestroy();
          });
        });
      });
    });
  });
  let ssh = makeSsh();
  const tcp = net.createServer((socket) => {
    hooks.connections++;
    hooks.open++;
    sockets.add(socket);
    socket.once('close', () => {
      hooks.open--;
      sockets.delete(socket);
    });
    socket.on('error', () => undefined);
    ssh.injectSocket(socket);
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(0, '127.0.0.1', () => resolve());
  });
  return Object.assign(hooks, {
    port: (tcp.address() as net.AddressInfo).port,
    root,
    user,
    password,
    get hostKey() {
      return hostKey;
    },
    clientKey,
    clientKeyPath,
    setHostKey(key: SshKeyPair) {
      hostKey = key;
      ssh = makeSsh();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  });
}

/**
 * Writes `bytes` of a deterministic pseudo-random pattern (xorshift32 seeded per 1 MiB block, so a block out of
 * place or repeated changes the checksum) without holding the file in memory. Returns its SHA-256 in hex.
 */
export async function writePatternFile(file: string, bytes: number, seed = 1): Promise<string> {
  const BLOCK = 1 << 20;
  const hash = crypto.createHash('sha256');
  const out = fs.createWriteStream(file);
  const done = new Promise<void>((resolve, reject) => {
    out.once('finish', resolve);
    out.once('error', reject);
  });
  for (let off = 0, block = 0; off < bytes; off += BLOCK, block++) {
    const n = Math.min(BLOCK, bytes - off);
    const buf = Buffer.allocUnsafe(n + 3);
    let x = (seed * 0x9e3779b1 + block * 0x85ebca6b + 1) >>> 0 || 1;
    for (let i = 0; i < n; i += 4) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      buf.writeUInt32LE(x, i);
    }
    const chunk = buf.subarray(0, n);
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  out.end();
  await done;
  return hash.digest('hex');
}

export async function sha256File(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Every file under `dir` (relative paths, sorted), to show exactly what a job left behind. */
export function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else out.push(r);
    }
  };
  walk(dir, '');
  return out.sort();
}
