/**
 * FileUpload and FileDownload jobs against a real SFTP server (ssh2's Server over a folder, on loopback): password
 * and key logins, host keys pinned by fingerprint or known_hosts, and what happens when the key is unknown or has
 * changed, the login is refused, the listing is hostile or the transfer hangs.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../src/config';
import type { Endpoint } from '../../src/transfer/endpoints';
import type { TestDatabase } from '../support/db';
import { databaseSuite } from '../support/suite';
import { tempDir } from '../support/tempDirs';
import { waitFor } from '../support/wait';
import { finished, startTransferDaemon, submit, transferConfig } from './jobs';
import { filesUnder, hashedKnownHostsLine, knownHostsLine, makeSshKey, startSftp, type TestSftp } from './servers';

const suite = databaseSuite('TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE');
const { daemons, servers } = suite;
let db: TestDatabase;
beforeAll(() => {
  db = suite.db;
});

async function server(): Promise<TestSftp> {
  const s = await startSftp();
  servers.push(s);
  return s;
}

function endpoint(s: TestSftp, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'partner',
    protocol: 'sftp',
    host: '127.0.0.1',
    port: s.port,
    user: s.user,
    password: s.password,
    hostKey: { fingerprint: s.hostKey.fingerprint },
    timeoutMs: 5000,
    ...over,
  };
}

async function daemonWith(cfg: Config): Promise<Config> {
  daemons.push(await startTransferDaemon(cfg));
  return cfg;
}

function put(dir: string, name: string, content: string | Buffer): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, name), content);
  return path.join(dir, name);
}

describe('sftp', () => {
  it('uploads and downloads with a password login and a pinned fingerprint, leaving no temporary file', async () => {
    const s = await server();
    const cfg = await daemonWith(transferConfig(db.url, [endpoint(s, { remoteDir: '/in' })]));
    fs.mkdirSync(path.join(s.root, 'in'));
    const statement = Buffer.from('customer,balance\n'.repeat(4000));
    const local = put(tempDir('xtc-out-'), 'statement.csv', statement);

    const up = await finished(db, await submit(db, 'FileUpload', { endpoint: 'partner', file: local, remoteName: 'stmt-2026-01.csv' }));
    expect(up.batch_exitstatus).toBe('');
    expect(up.batch_result).toMatchObject({ endpoint: 'partner', protocol: 'sftp', files: [{ name: 'stmt-2026-01.csv', bytes: statement.length, local }] });
    expect(filesUnder(s.root)).toEqual(['in/stmt-2026-01.csv']);
    expect(fs.readFileSync(path.join(s.root, 'in/stmt-2026-01.csv')).equals(statement)).toBe(true);

    // The same name again: the remote file is replaced (SFTP's RENAME refuses an existing name, so this
    // exercises the fallback for servers without posix-rename).
    const newer = Buffer.from('customer,balance\n1,0\n');
    fs.writeFileSync(local, newer);
    const again = await finished(db, await submit(db, 'FileUpload', { endpoint: 'partner', file: local, remoteName: 'stmt-2026-01.csv' }));
    expect(again.batch_exitstatus).toBe('');
    expect(filesUnder(s.root)).toEqual(['in/stmt-2026-01.csv']);
    expect(fs.readFileSync(path.join(s.root, 'in/stmt-2026-01.csv')).equals(newer)).toBe(true);

    put(path.join(s.root, 'in'), '850-0001.edi', 'ISA*00*...~');
    const down = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner', pattern: '*.edi', afterDownload: 'delete' }));
    expect(down.batch_exitstatus).toBe('');
    expect(down.batch_result?.files).toEqual([{ name: '850-0001.edi', bytes: 11 }]);
    expect(filesUnder(path.join(cfg.dataDir, 'inbox'))).toEqual(['850-0001.edi']);
    expect(filesUnder(s.root)).toEqual(['in/stmt-2026-01.csv']);
  });

  it('logs in with a private key and checks the host against a hashed known_hosts file', async () => {
    const s = await server();
    const dir = tempDir('xtc-kh-');
    const knownHosts = put(dir, 'known_hosts', [
      '# partner servers',
      knownHostsLine(makeSshKey(), 22, 'other.example.com'),
      hashedKnownHostsLine(s.hostKey, s.port),
      '',
    ].join('\n'));
    const cfg = await daemonWith(transferConfig(db.url, [endpoint(s, {
      password: undefined, privateKeyPath: s.clientKeyPath, hostKey: { knownHostsPath: knownHosts },
    })]));
    put(s.root, 'a.txt', 'A');
    fs.mkdirSync(path.join(s.root, 'done'));
    const r = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner', afterDownload: 'archive', archiveDir: 'done' }));
    expect(r.batch_exitstatus).toBe('');
    expect(r.batch_result?.files).toEqual([{ name: 'a.txt', bytes: 1, archivedAs: 'done/a.txt' }]);
    expect(filesUnder(s.root)).toEqual(['done/a.txt']);
    expect(filesUnder(path.join(cfg.dataDir, 'inbox'))).toEqual(['a.txt']);
  });
});

describe('host keys', () => {
  it('a changed host key fails the job at once, saying so, before anything is sent', async () => {
    const s = await server();
    const cfg = await daemonWith(transferConfig(db.url, [endpoint(s)]));
    const pinned = s.hostKey.fingerprint;
    const impostor = makeSshKey('ecdsa');
    s.setHostKey(impostor);
    put(cfg.spoolDir, 'IN1.pdf', 'invoice');
    const r = await finished(db, await submit(db, 'FileUpload', { endpoint: 'partner', file: 'IN1.pdf' }));
    expect(r.batch_attempts).toBe(1);
    expect(r.batch_exitstatus).toBe(`endpoint "partner" (sftp://127.0.0.1:${s.port}): host key CHANGED: 127.0.0.1:${s.port} presented ` +
      `${impostor.fingerprint} (ecdsa-sha2-nistp256), but the endpoint pins ${pinned}. If the server's key was replaced on purpose, ` +
      'check the new fingerprint with its administrator and put it in hostKey.fingerprint; otherwise someone may be intercepting ' +
      'the connection. Nothing was sent');
    expect(filesUnder(s.root)).toEqual([]);
  });

  it('a key that differs from the known_hosts entry is refused as changed', async () => {
    const s = await server();
    const knownHosts = put(tempDir('xtc-kh-'), 'known_hosts', knownHostsLine(s.hostKey, s.port) + '\n');
    await daemonWith(transferConfig(db.url, [endpoint(s, { hostKey: { knownHostsPath: knownHosts } })]));
    s.setHostKey(makeSshKey('ed25519'));
    const r = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner' }));
    expect(r.batch_attempts).toBe(1);
    expect(r.batch_exitstatus).toMatch(new RegExp(`host key CHANGED: 127\\.0\\.0\\.1:${s.port} presented SHA256:\\S+ \\(ssh-ed25519\\), ` +
      `which is not the key ${knownHosts} holds for it`));
  });

  it('a host missing from known_hosts is refused as unknown, and so is an endpoint that pins nothing', async () => {
    const s = await server();
    const knownHosts = put(tempDir('xtc-kh-'), 'known_hosts', knownHostsLine(s.hostKey, 2222) + '\n');
    const cfg = transferConfig(db.url, [endpoint(s, { hostKey: { knownHostsPath: knownHosts } })]);
    // parseEndpoints refuses an SFTP endpoint without a pin; one built by hand must be refused by the connection too.
    const endpoints = (cfg as unknown as { endpoints: Endpoint[] }).endpoints;
    endpoints.push({ ...endpoints[0]!, name: 'unpinned', hostKey: { fingerprints: [], knownHostsPath: null } });
    await daemonWith(cfg);
    const a = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner' }));
    expect(a.batch_attempts).toBe(1);
    expect(a.batch_exitstatus).toContain(`host key UNKNOWN: 127.0.0.1:${s.port} is not in ${knownHosts}; it presented ${s.hostKey.fingerprint} (ssh-ed25519)`);
    const b = await finished(db, await submit(db, 'FileDownload', { endpoint: 'unpinned' }));
    expect(b.batch_attempts).toBe(1);
    expect(b.batch_exitstatus).toContain('host key UNKNOWN: the endpoint pins no fingerprint and names no known_hosts file, and xtconnect never accepts an unchecked key');
  });
});

describe('failures', () => {
  it('a refused login fails the job at once', async () => {
    const s = await server();
    await daemonWith(transferConfig(db.url, [endpoint(s, { password: 'wrong' })]));
    const r = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner' }));
    expect(r.batch_attempts).toBe(1);
    expect(r.batch_exitstatus).toMatch(/^endpoint "partner" \(sftp:\/\/127\.0\.0\.1:\d+\): login refused for this user \(.*All configured authentication methods failed.*\)$/);
  });

  it('a remote folder that does not exist fails the job at once', async () => {
    const s = await server();
    await daemonWith(transferConfig(db.url, [endpoint(s, { remoteDir: 'outbound' })]));
    const r = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner' }));
    expect(r.batch_attempts).toBe(1);
    expect(r.batch_exitstatus).toBe(`endpoint "partner" (sftp://127.0.0.1:${s.port}, folder "outbound"): no such remote folder "outbound"`);
  });

  // ".." itself never gets this far: ssh2's readdir drops "." and ".." from every listing.
  it.each([['../evil'], ['/etc/x'], ['a\\..\\..\\evil'], ['bad\r\nDELE x']])('a listing with %p fails the job, naming it, and writes nothing', async (bad) => {
    const s = await server();
    const cfg = await daemonWith(transferConfig(db.url, [endpoint(s)]));
    put(s.root, 'good.csv', 'fine\n');
    s.fakeNames = [bad];
    const r = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner', afterDownload: 'delete' }));
    expect(r.batch_attempts).toBe(1);
    expect(r.batch_exitstatus).toContain(`remote file name ${JSON.stringify(bad)} (listed by endpoint "partner"`);
    expect(filesUnder(cfg.dataDir)).toEqual([]);
    expect(filesUnder(s.root)).toEqual(['good.csv']);
  });

  it('a download that hangs shows only its hidden temporary file, is stopped at the job\'s timeout, and leaves nothing', async () => {
    const s = await server();
    const cfg = await daemonWith(transferConfig(db.url, [endpoint(s, { timeoutMs: 60_000 })]));
    put(s.root, 'slow.bin', Buffer.alloc(100_000, 1));
    s.stall = true;
    const id = await submit(db, 'FileDownload', { endpoint: 'partner' }, { batch_timeout_seconds: 2 });
    const inbox = path.join(cfg.dataDir, 'inbox');
    // A reader of the inbox never sees the file under its own name before it is whole.
    expect(await waitFor('the temporary file', () => filesUnder(inbox).length > 0 && filesUnder(inbox))).toEqual([`.slow.bin.xtc-${id}.part`]);
    const r = await finished(db, id);
    expect(r.batch_exitstatus).toMatch(/did not finish within its timeout of 2 s/);
    await waitFor('the server to see the connection closed', () => s.open === 0, 5000);
    await waitFor('the temporary file to be removed', () => filesUnder(inbox).length === 0, 5000);
  });

  it('an upload in flight exists on the server only under its hidden temporary name', async () => {
    const s = await server();
    const cfg = await daemonWith(transferConfig(db.url, [endpoint(s, { timeoutMs: 60_000 })]));
    put(cfg.spoolDir, 'IN9.pdf', Buffer.alloc(3_000_000, 2));
    s.stall = true;
    const id = await submit(db, 'FileUpload', { endpoint: 'partner', file: 'IN9.pdf' }, { batch_timeout_seconds: 2 });
    expect(await waitFor('the temporary file', () => filesUnder(s.root).length > 0 && filesUnder(s.root))).toEqual([`.IN9.pdf.xtc-${id}.part`]);
    const r = await finished(db, id);
    expect(r.batch_exitstatus).toMatch(/did not finish within its timeout of 2 s/);
    expect(filesUnder(s.root).filter((n) => !n.startsWith('.'))).toEqual([]);
  });
});
