import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Client as SshClient, ConnectConfig } from 'ssh2';
import type SftpClient from 'ssh2-sftp-client';
import { errorMessage, PermanentError, TransientError } from '../errors';
import { describeEndpoint, type Endpoint } from './endpoints';
import { downloadVia, uploadVia, type DownloadRequest, type DownloadResult, type MovedFile, type RemoteEntry, type RemoteSession, type UploadRequest } from './paths';

/** What `ssh-keygen -lf` prints for a key: "SHA256:" and the unpadded base64 of the SHA-256 of its wire form. */
export function sshFingerprint(keyBlob: Buffer): string {
  return 'SHA256:' + crypto.createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

/** The key type named at the start of a public key's wire form ("ssh-ed25519", "ssh-rsa", ...). */
export function sshKeyType(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const len = keyBlob.readUInt32BE(0);
  return len > 0 && len < 64 && keyBlob.length >= 4 + len ? keyBlob.subarray(4, 4 + len).toString('latin1') : 'unknown';
}

export interface KnownHostsVerdict {
  status: 'match' | 'changed' | 'unknown' | 'revoked';
  /** Key types the file holds for this host, so the handshake can ask for one of them (as OpenSSH does). */
  knownTypes: string[];
}

function globToRegExp(pattern: string): RegExp {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i');
}

/** One host-patterns field of known_hosts against "host" (port 22) or "[host]:port". */
function hostMatches(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) {
    const [, , salt, hash] = patterns.split('|');
    if (!salt || !hash) return false;
    const mac = crypto.createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest();
    const want = Buffer.from(hash, 'base64');
    return mac.length === want.length && crypto.timingSafeEqual(mac, want);
  }
  let hit = false;
  for (const p of patterns.split(',')) {
    if (p.startsWith('!')) {
      if (globToRegExp(p.slice(1)).test(name)) return false;
    } else if (globToRegExp(p).test(name)) {
      hit = true;
    }
  }
  return hit;
}

/**
 * Looks a presented host key up in the text of an OpenSSH known_hosts file: plain and hashed (|1|salt|hash)
 * host names, "[host]:port" for ports other than 22, wildcards and negations, @revoked lines.
 * @cert-authority lines are passed by: host certificates are not supported, so they cannot vouch for a key.
 */
export function checkKnownHosts(text: string, host: string, port: number, keyBlob: Buffer): KnownHostsVerdict {
  const name = port === 22 ? host.toLowerCase() : `[${host.toLowerCase()}]:${port}`;
  const types = new Set<string>();
  let matched = false;
  let sawHost = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: string | null = null;
    if (fields[0]!.startsWith('@')) marker = fields.shift()!;
    const [patterns, type, b64] = fields;
    if (!patterns || !type || !b64) continue;
    if (!hostMatches(patterns, name)) continue;
    let blob: Buffer;
    try {
      blob = Buffer.from(b64, 'base64');
    } catch {
      continue;
    }
    const same = blob.equals(keyBlob);
    if (marker === '@revoked') {
      if (same) return { status: 'revoked', knownTypes: [] };
      continue;
    }
    if (marker !== null) continue;
    sawHost = true;
    types.add(type);
    if (same) matched = true;
  }
  return { status: matched ? 'match' : sawHost ? 'changed' : 'unknown', knownTypes: [...types] };
}

/** known_hosts key types → the host key algorithms of the handshake that produce such a key (ssh2's names). */
function algorithmsFor(types: string[]): string[] {
  const out: string[] = [];
  for (const t of types) {
    if (t === 'ssh-rsa') out.push('rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa');
    else if (['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-dss'].includes(t)) out.push(t);
  }
  return [...new Set(out)];
}

interface HostKeyCheck {
  /** Null when the key is accepted; otherwise why not, in words for the job row. */
  verify(keyBlob: Buffer): string | null;
  serverHostKey: string[] | null;
}

function hostKeyCheck(ep: Endpoint): HostKeyCheck {
  const hostPort = `${ep.host}:${ep.port}`;
  let known: string | null = null;
  if (ep.hostKey.knownHostsPath) {
    try {
      known = fs.readFileSync(ep.hostKey.knownHostsPath, 'utf8');
    } catch (err) {
      throw new PermanentError(`cannot read hostKey.knownHostsPath ${ep.hostKey.knownHostsPath}: ${errorMessage(err)}`);
    }
  }
  const pins = ep.hostKey.fingerprints;
  let serverHostKey: string[] | null = null;
  if (known !== null && pins.length === 0) {
    // Only the file can vouch: ask for a key type it holds, so a server with several keys does not offer another.
    const types = algorithmsFor(checkKnownHosts(known, ep.host, ep.port, Buffer.alloc(0)).knownTypes);
    if (types.length) serverHostKey = types;
  }
  return {
    serverHostKey,
    verify(keyBlob) {
      const fp = sshFingerprint(keyBlob);
      const presented = `${fp} (${sshKeyType(keyBlob)})`;
      if (pins.includes(fp)) return null;
      const verdict = known !== null ? checkKnownHosts(known, ep.host, ep.port, keyBlob) : null;
      if (verdict?.status === 'revoked') {
        return `host key REVOKED: ${hostPort} presented ${presented}, which ${ep.hostKey.knownHostsPath} marks @revoked; connection refused`;
      }
      if (verdict?.status === 'match') return null;
      if (pins.length) {
        return `host key CHANGED: ${hostPort} presented ${presented}, but the endpoint pins ${pins.join(' or ')}. ` +
          'If the server\'s key was replaced on purpose, check the new fingerprint with its administrator and put it in ' +
          'hostKey.fingerprint; otherwise someone may be intercepting the connection. Nothing was sent';
      }
      if (verdict?.status === 'changed') {
        return `host key CHANGED: ${hostPort} presented ${presented}, which is not the key ${ep.hostKey.knownHostsPath} holds for it. ` +
          'If the server\'s key was replaced on purpose, check the new fingerprint with its administrator and update the file; ' +
          'otherwise someone may be intercepting the connection. Nothing was sent';
      }
      if (verdict?.status === 'unknown') {
        return `host key UNKNOWN: ${hostPort} is not in ${ep.hostKey.knownHostsPath}; it presented ${presented}. ` +
          'Check that fingerprint with the server\'s administrator, then add it to hostKey.fingerprint or to the known_hosts file. Nothing was sent';
      }
      return `host key UNKNOWN: the endpoint pins no fingerprint and names no known_hosts file, and xtconnect never accepts ` +
        `an unchecked key; ${hostPort} presented ${presented}. Nothing was sent`;
    },
  };
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH',
  'ENETUNREACH', 'ENETDOWN', 'EHOSTDOWN', 'EAI_AGAIN', 'ENOTFOUND', 'ERR_NOT_CONNECTED', 'ERR_GENERIC_CLIENT']);

/** SFTP status codes (draft-ietf-secsh-filexfer-02) that another attempt will not change. */
const SFTP_PERMANENT: Record<number, string> = { 2: 'no such file or folder', 3: 'permission denied', 4: 'the server reports a failure', 8: 'operation not supported by the server' };

/**
 * PermanentError for a refused login, a host key that does not check out, a missing file or folder, a permission
 * or other SFTP failure status, a bad private key; TransientError for refused, broken or timed-out connections.
 */
export function classifySftpError(err: unknown, where: string, doing: string, hostKeyRejection: string | null = null): Error {
  if (err instanceof PermanentError || err instanceof TransientError) return err;
  if (hostKeyRejection) return new PermanentError(`${where}: ${hostKeyRejection}`);
  const msg = errorMessage(err);
  const e = err as { code?: unknown; level?: unknown; syscall?: unknown; path?: unknown };
  if (e?.level === 'client-authentication' || /All configured authentication methods failed/i.test(msg)) {
    return new PermanentError(`${where}: login refused for this user (${msg})`);
  }
  if (/privateKey|private key|passphrase/i.test(msg)) return new PermanentError(`${where}: ${msg}`);
  if (e?.level === 'client-timeout' || /Timed out while waiting for handshake|Keepalive timeout/i.test(msg)) {
    return new TransientError(`${where}: ${doing}: ${msg}`);
  }
  if (typeof e?.code === 'number' && SFTP_PERMANENT[e.code]) {
    return new PermanentError(`${where}: ${doing}: ${SFTP_PERMANENT[e.code]} (${msg})`);
  }
  const code = typeof e?.code === 'string' ? e.code : '';
  if (e?.syscall && e.path) {
    if (code === 'ENOSPC' || code === 'EMFILE' || code === 'ENFILE') return new TransientError(`${doing}: ${msg}`);
    return new PermanentError(`${doing}: ${msg}`);
  }
  if (code === 'ENOENT' || code === 'ERR_BAD_PATH' || code === 'EACCES') return new PermanentError(`${where}: ${doing}: ${msg}`);
  if (NETWORK_CODES.has(code) || /No response from server|Unexpected (end|close) event|Connection lost|not connected|No SFTP connection/i.test(msg)) {
    return new TransientError(`${where}: ${doing}: ${msg}`);
  }
  return new TransientError(`${where}: ${doing}: ${msg}`);
}

/**
 * fastGet/fastPut move this much per request (ssh2 splits it into what the server accepts: 32 KiB for most
 * servers, up to 255 KiB for OpenSSH's), with this many requests in flight. Uploads wait for each write's
 * acknowledgement, so they need more in flight than downloads to keep the line full: with 64 an upload to the
 * loopback test server ran at about 70 % of OpenSSH's sftp, with 128 at par. Buffers: 4 and 8 MiB per transfer.
 */
const CHUNK = 64 * 1024;
const GET_CONCURRENCY = 64;
const PUT_CONCURRENCY = 128;

function sshOf(c: SftpClient): SshClient {
  return (c as unknown as { client: SshClient }).client;
}

class SftpSession implements RemoteSession {
  constructor(
    private readonly c: SftpClient,
    private readonly base: string,
    readonly where: string,
    private readonly release: () => void,
  ) {}

  private abs(p: string): string {
    return p.startsWith('/') ? p : path.posix.join(this.base, p);
  }

  private async op<T>(doing: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      throw classifySftpError(err, this.where, doing);
    }
  }

  list(): Promise<RemoteEntry[]> {
    return this.op('list the remote folder', async () =>
      (await this.c.list(this.base)).map((f) => ({
        name: f.name,
        size: f.size,
        kind: f.type === '-' ? 'file' : f.type === 'd' ? 'dir' : f.type === 'l' ? 'link' : 'other',
      })));
  }

  async size(p: string): Promise<number | null> {
    try {
      return (await this.c.stat(this.abs(p))).size;
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ENOENT') return null;
      throw classifySftpError(err, this.where, `ask the size of "${p}"`);
    }
  }

  async get(p: string, localPath: string): Promise<void> {
    await this.op(`download "${p}"`, () => this.c.fastGet(this.abs(p), localPath, { concurrency: GET_CONCURRENCY, chunkSize: CHUNK }));
  }

  async put(localPath: string, p: string): Promise<void> {
    await this.op(`upload "${p}"`, () => this.c.fastPut(localPath, this.abs(p), { concurrency: PUT_CONCURRENCY, chunkSize: CHUNK }));
  }

  async rename(from: string, to: string, opts: { replace: boolean }): Promise<void> {
    const [a, b] = [this.abs(from), this.abs(to)];
    const doing = `rename "${from}" to "${to}"`;
    if (!opts.replace) {
      await this.op(doing, () => this.c.rename(a, b));
      return;
    }
    // SFTP v3's RENAME refuses an existing target; OpenSSH's posix-rename replaces it atomically.
    try {
      await this.c.posixRename(a, b);
      return;
    } catch (err) {
      if (!/support/i.test(errorMessage(err))) throw classifySftpError(err, this.where, doing);
    }
    try {
      await this.c.rename(a, b);
    } catch (err) {
      if ((await this.size(to)) === null) throw classifySftpError(err, this.where, doing);
      // Without posix-rename there is a moment with no file under the final name; never one with half a file.
      await this.op(`replace "${to}"`, () => this.c.delete(b));
      await this.op(doing, () => this.c.rename(a, b));
    }
  }

  async remove(p: string): Promise<void> {
    await this.op(`delete "${p}"`, () => this.c.delete(this.abs(p)));
  }

  async isFolder(p: string): Promise<boolean> {
    try {
      return (await this.c.stat(this.abs(p))).isDirectory;
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ENOENT') return false;
      throw classifySftpError(err, this.where, `look for the folder "${p}"`);
    }
  }

  async close(): Promise<void> {
    this.release();
    // end() waits for the server to close; a server that never does must not hold the job.
    const timer = setTimeout(() => sshOf(this.c).destroy(), 2000);
    try {
      await this.c.end();
    } catch {
      sshOf(this.c).destroy();
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Connects with the endpoint's password or private key, checks the server's host key against the pinned
 * fingerprints or the known_hosts file before anything is sent, and resolves the remote folder. The job's
 * signal destroys the connection, which fails whatever it was doing at once.
 */
export async function openSftp(ep: Endpoint, remoteDir: string, signal: AbortSignal): Promise<RemoteSession> {
  const where = describeEndpoint(ep, remoteDir);
  const check = (() => {
    try {
      return hostKeyCheck(ep);
    } catch (err) {
      throw err instanceof PermanentError ? new PermanentError(`${where}: ${err.message}`) : err;
    }
  })();
  let privateKey: Buffer | undefined;
  if (ep.privateKeyPath) {
    try {
      privateKey = fs.readFileSync(ep.privateKeyPath);
    } catch (err) {
      throw new PermanentError(`${where}: cannot read privateKeyPath ${ep.privateKeyPath}: ${errorMessage(err)}`);
    }
  }
  // Errors are taken from each call's own rejection; the defaults would print them to the console.
  // ssh2 is loaded by the first SFTP job, like basic-ftp: most daemons never use it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Sftp = require('ssh2-sftp-client') as typeof SftpClient;
  const c = new Sftp('xtconnect', { error: () => undefined, end: () => undefined, close: () => undefined });
  let rejection: string | null = null;
  const onAbort = (): void => {
    sshOf(c).destroy();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  const release = (): void => signal.removeEventListener('abort', onAbort);
  if (ep.password !== null) {
    // Servers that allow passwords only through keyboard-interactive (a common OpenSSH setup) get the same one.
    sshOf(c).on('keyboard-interactive', (_name, _instructions, _lang, prompts, finish) => finish(prompts.map(() => ep.password!)));
  }
  const config: ConnectConfig = {
    host: ep.host,
    port: ep.port,
    username: ep.user,
    password: ep.password ?? undefined,
    privateKey,
    passphrase: ep.passphrase ?? undefined,
    tryKeyboard: ep.password !== null,
    readyTimeout: ep.timeoutMs,
    // A connection that goes silent mid-transfer is declared dead after about timeoutMs instead of hanging the job.
    keepaliveInterval: Math.max(1000, Math.floor(ep.timeoutMs / 3)),
    keepaliveCountMax: 3,
    hostVerifier: (key: Buffer) => {
      rejection = check.verify(key);
      return rejection === null;
    },
    ...(check.serverHostKey ? { algorithms: { serverHostKey: check.serverHostKey as never } } : {}),
  };
  let base: string;
  try {
    if (signal.aborted) throw signal.reason;
    await c.connect(config);
    const target = remoteDir || '.';
    const resolved = await c.realPath(target);
    let isDir: boolean | null = null;
    if (resolved) {
      try {
        // stat, not lstat: a folder reached through a symbolic link is still a folder.
        isDir = (await c.stat(resolved)).isDirectory;
      } catch (err) {
        if ((err as { code?: unknown }).code !== 'ENOENT') throw err;
      }
    }
    if (!resolved || !isDir) {
      throw new PermanentError(`${where}: no such remote folder "${target}"${isDir === false ? ` (${resolved} is not a folder)` : ''}`);
    }
    base = resolved;
  } catch (err) {
    release();
    sshOf(c).destroy();
    throw classifySftpError(err, where, 'connect and log in', rejection);
  }
  return new SftpSession(c, base, where, release);
}

export async function sftpUpload(ep: Endpoint, remoteDir: string, req: UploadRequest): Promise<MovedFile> {
  const s = await openSftp(ep, remoteDir, req.signal);
  try {
    return await uploadVia(s, req, () => openSftp(ep, remoteDir, req.signal));
  } finally {
    await s.close();
  }
}

export async function sftpDownload(ep: Endpoint, remoteDir: string, req: DownloadRequest): Promise<DownloadResult> {
  const s = await openSftp(ep, remoteDir, req.signal);
  try {
    return await downloadVia(s, req);
  } finally {
    await s.close();
  }
}
