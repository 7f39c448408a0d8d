/**
 * Endpoint definitions: the config file's `endpoints:` list (checked entry by entry, secrets from the
 * environment, no SFTP endpoint without a host key pin), xTuple's FTP EDI profiles, and the host key helpers
 * checked against OpenSSH's own ssh-keygen.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, PermanentError } from '../../src/errors';
import { parseEndpoints } from '../../src/config';
import { endpointEnvVar, endpointFromEdiProfile } from '../../src/transfer/endpoints';
import { checkKnownHosts, sshFingerprint } from '../../src/transfer/sftp';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { tempDir } from '../support/tempDirs';
import { knownHostsLine, makeSshKey } from './servers';

const FP = 'SHA256:' + 'A'.repeat(43);

describe('parseEndpoints', () => {
  it('reads each protocol with its defaults, and takes secrets from the environment over the file', () => {
    const eps = parseEndpoints([
      { name: 'acme-edi', protocol: 'sftp', host: 'sftp.acme.example', user: 'xt', privateKeyPath: '/etc/xtconnect/acme_ed25519', hostKey: { fingerprint: FP } },
      { name: 'bank', protocol: 'ftps', host: 'ftp.bank.example', user: 'u', password: 'in-file', remoteDir: 'outbound', tls: { caPath: '/etc/xtconnect/bank-ca.pem' } },
      { name: 'legacy', protocol: 'ftps-implicit', host: '10.0.0.5', user: 'u', password: 'p', timeoutMs: 5000 },
      { name: 'plain', protocol: 'ftp', host: 'ftp.example.com', port: 2121, user: 'anonymous', password: '' },
    ], 'x.yaml', { XTCONNECT_ENDPOINT_ACME_EDI_PASSPHRASE: 'key-pass', XTCONNECT_ENDPOINT_BANK_PASSWORD: 'from-env' });
    expect(eps.map((e) => [e.name, e.protocol, e.port, e.remoteDir, e.timeoutMs])).toEqual([
      ['acme-edi', 'sftp', 22, '', 30000],
      ['bank', 'ftps', 21, 'outbound', 30000],
      ['legacy', 'ftps-implicit', 990, '', 5000],
      ['plain', 'ftp', 2121, '', 30000],
    ]);
    expect(eps[0]).toMatchObject({ password: null, passphrase: 'key-pass', privateKeyPath: '/etc/xtconnect/acme_ed25519', hostKey: { fingerprints: [FP], knownHostsPath: null } });
    expect(eps[1]).toMatchObject({ password: 'from-env', tls: { caPath: '/etc/xtconnect/bank-ca.pem', servername: null } });
    expect(eps[3]!.password).toBe('');
    expect(endpointEnvVar('acme-edi.2', 'PASSWORD')).toBe('XTCONNECT_ENDPOINT_ACME_EDI_2_PASSWORD');
  });

  it('takes a password from the environment alone', () => {
    const [e] = parseEndpoints([{ name: 'p', protocol: 'ftp', host: 'h', user: 'u' }], 'x.yaml', { XTCONNECT_ENDPOINT_P_PASSWORD: 's' });
    expect(e!.password).toBe('s');
  });

  const sftp = { name: 's', protocol: 'sftp', host: 'h', user: 'u', password: 'p', hostKey: { fingerprint: FP } };
  const ftp = { name: 'f', protocol: 'ftp', host: 'h', user: 'u', password: 'p' };
  it.each<[string, unknown, RegExp]>([
    ['a map instead of a list', { a: 1 }, /^x\.yaml: endpoints must be a list of entries/],
    ['an entry that is not a section', ['acme'], /^x\.yaml: endpoints\[0\] must be a section/],
    ['an unknown key', [{ ...ftp, passwd: 'x' }], /^x\.yaml: endpoints\[0\]: unknown key "passwd"/],
    ['no name', [{ ...ftp, name: undefined }], /^x\.yaml: endpoints\[0\]\.name must be a name of letters/],
    ['a name used twice', [ftp, { ...ftp, name: 'F' }], /^x\.yaml: endpoints\[1\]\.name "F" is used twice \(also endpoints\[0\]\)/],
    ['a protocol it does not speak', [{ ...ftp, protocol: 'scp' }], /^x\.yaml: endpoints\[0\]\.protocol must be one of ftp, ftps, ftps-implicit, sftp \(got "scp"\)/],
    ['a URL for a host', [{ ...ftp, host: 'ftp://h' }], /^x\.yaml: endpoints\[0\]\.host must be a host name or IP address/],
    ['a port out of range', [{ ...ftp, port: 70000 }], /^x\.yaml: endpoints\[0\]\.port must be a whole number from 1 to 65535 \(got 70000\)/],
    ['no user', [{ ...ftp, user: '' }], /^x\.yaml: endpoints\[0\]\.user must be the login name/],
    ['ftp without a password', [{ ...ftp, password: undefined }], /endpoints\[0\] \(f\): an ftp endpoint needs a password .*XTCONNECT_ENDPOINT_F_PASSWORD/],
    ['sftp with neither key nor password', [{ ...sftp, password: undefined }], /endpoints\[0\] \(s\): an sftp endpoint needs privateKeyPath or a password/],
    ['sftp without a host key pin', [{ ...sftp, hostKey: undefined }], /endpoints\[0\]\.hostKey \(s\): an sftp endpoint needs hostKey\.fingerprint .* xtconnect never accepts an unknown host key/],
    ['sftp with an empty hostKey', [{ ...sftp, hostKey: {} }], /an sftp endpoint needs hostKey\.fingerprint/],
    ['a fingerprint in another format', [{ ...sftp, hostKey: { fingerprint: 'MD5:12:34' } }], /endpoints\[0\]\.hostKey\.fingerprint must be a SHA-256 fingerprint/],
    ['a bad fingerprint in a list', [{ ...sftp, hostKey: { fingerprint: [FP, 'SHA256:short'] } }], /endpoints\[0\]\.hostKey\.fingerprint\[1\] must be a SHA-256 fingerprint/],
    ['a relative known_hosts path', [{ ...sftp, hostKey: { knownHostsPath: 'known_hosts' } }], /endpoints\[0\]\.hostKey\.knownHostsPath must be an absolute path/],
    ['an unknown hostKey key', [{ ...sftp, hostKey: { fingerprints: FP } }], /endpoints\[0\]\.hostKey: unknown key "fingerprints"/],
    ['a host key on ftp', [{ ...ftp, hostKey: { fingerprint: FP } }], /endpoints\[0\]\.hostKey \(f\): hostKey applies to sftp/],
    ['tls on plain ftp', [{ ...ftp, tls: { caPath: '/ca.pem' } }], /endpoints\[0\]\.tls \(f\): plain ftp has no TLS/],
    ['tls on sftp', [{ ...sftp, tls: { caPath: '/ca.pem' } }], /endpoints\[0\]\.tls \(s\): tls applies to ftps and ftps-implicit, not sftp/],
    ['a private key on ftp', [{ ...ftp, privateKeyPath: '/k' }], /endpoints\[0\] \(f\): privateKeyPath and passphrase apply to sftp only/],
    ['a timeout below a second', [{ ...ftp, timeoutMs: 10 }], /endpoints\[0\]\.timeoutMs must be a whole number from 1000 to 600000/],
  ])('refuses %s with a ConfigError naming the entry and key', (_what, raw, message) => {
    expect(() => parseEndpoints(raw, 'x.yaml', {})).toThrow(ConfigError);
    expect(() => parseEndpoints(raw, 'x.yaml', {})).toThrow(message);
  });
});

describe('host keys', () => {
  it('fingerprints a key exactly as ssh-keygen -lf does', () => {
    const dir = tempDir('xtc-keys-');
    for (const type of ['ed25519', 'ecdsa', 'rsa'] as const) {
      const key = makeSshKey(type);
      const file = path.join(dir, `${type}.pub`);
      fs.writeFileSync(file, key.public + '\n');
      const printed = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', file], { encoding: 'utf8' });
      expect(printed.split(' ')[1]).toBe(sshFingerprint(key.blob));
    }
  });

  it('reads known_hosts as OpenSSH writes it: plain, hashed by ssh-keygen -H, [host]:port, wildcards, negation, @revoked', () => {
    const key = makeSshKey();
    const other = makeSshKey();
    const dir = tempDir('xtc-kh-');
    const file = path.join(dir, 'known_hosts');
    fs.writeFileSync(file, `${knownHostsLine(key, 2222, 'sftp.acme.example')}\n${knownHostsLine(key, 22, 'ftp.acme.example')}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'pipe' });
    const hashed = fs.readFileSync(file, 'utf8');
    expect(hashed).not.toContain('acme');
    expect(checkKnownHosts(hashed, 'sftp.acme.example', 2222, key.blob).status).toBe('match');
    expect(checkKnownHosts(hashed, 'ftp.acme.example', 22, key.blob).status).toBe('match');
    expect(checkKnownHosts(hashed, 'sftp.acme.example', 22, key.blob).status).toBe('unknown');
    expect(checkKnownHosts(hashed, 'sftp.acme.example', 2222, other.blob)).toEqual({ status: 'changed', knownTypes: ['ssh-ed25519'] });

    const b64 = key.blob.toString('base64');
    const text = [
      '# comment',
      `*.acme.example,!evil.acme.example ssh-ed25519 ${b64}`,
      `[10.0.0.?]:2222 ssh-ed25519 ${b64}`,
      `@revoked * ssh-ed25519 ${other.blob.toString('base64')}`,
      `@cert-authority *.acme.example ssh-ed25519 ${other.blob.toString('base64')}`,
    ].join('\n');
    expect(checkKnownHosts(text, 'SFTP.acme.example', 22, key.blob).status).toBe('match');
    expect(checkKnownHosts(text, 'evil.acme.example', 22, key.blob).status).toBe('unknown');
    expect(checkKnownHosts(text, '10.0.0.7', 2222, key.blob).status).toBe('match');
    expect(checkKnownHosts(text, '10.0.0.7', 22, key.blob).status).toBe('unknown');
    expect(checkKnownHosts(text, 'sftp.acme.example', 22, other.blob).status).toBe('revoked');
  });
});

describe('EDI profiles', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('are null where xtbatch.ediprofile does not exist', async () => {
    expect(await endpointFromEdiProfile(db.pool, 'ACME', {})).toBeNull();
  });

  it('read server, login, password and directory from options 1 to 4, however the server was typed', async () => {
    await db.pool.query(`CREATE TABLE xtbatch.ediprofile (ediprofile_id serial PRIMARY KEY, ediprofile_name text NOT NULL UNIQUE,
      ediprofile_notes text, ediprofile_type text NOT NULL, ediprofile_option1 text, ediprofile_option2 text, ediprofile_option3 text,
      ediprofile_option4 text, ediprofile_option5 text, ediprofile_emailhtml boolean DEFAULT false)`);
    const rows: Array<[string, string, string | null, string | null, string | null, string | null]> = [
      ['plain', 'ftp', 'ftp.acme.example', 'xt', 'pw', '/in'],
      ['port', 'ftp', 'ftp.acme.example:2121', 'xt', 'pw', ''],
      ['url', 'ftp', 'ftp://ftp.acme.example/outbound', '', null, null],
      ['explicit', 'ftp', 'ftpes://ftp.acme.example', 'xt', 'pw', 'x'],
      ['implicit', 'ftp', 'ftps://ftp.acme.example', 'xt', 'pw', 'x'],
      ['secure', 'ftp', 'sftp://ftp.acme.example', 'xt', 'pw', 'x'],
      ['empty', 'ftp', '', 'xt', 'pw', 'x'],
      ['creds', 'ftp', 'ftp://ftpuser:S3cr3t-FTP-77aa@127.0.0.1:47021/in', '', null, null],
      ['mail', 'email', 'a@b.example', 'Invoice', 'body', ''],
    ];
    for (const r of rows) {
      await db.pool.query(`INSERT INTO xtbatch.ediprofile (ediprofile_name, ediprofile_type, ediprofile_option1, ediprofile_option2,
        ediprofile_option3, ediprofile_option4) VALUES ($1, $2, $3, $4, $5, $6)`, r);
    }
    const env = { XTCONNECT_ENDPOINT_EXPLICIT_PASSWORD: 'from-env' };
    const get = (n: string) => endpointFromEdiProfile(db.pool, n, env);
    expect(await get('plain')).toMatchObject({ name: 'plain', protocol: 'ftp', host: 'ftp.acme.example', port: 21, user: 'xt', password: 'pw', remoteDir: '/in' });
    expect(await get('port')).toMatchObject({ protocol: 'ftp', port: 2121, remoteDir: '' });
    expect(await get('url')).toMatchObject({ protocol: 'ftp', host: 'ftp.acme.example', user: 'anonymous', password: '', remoteDir: '/outbound' });
    expect(await get('explicit')).toMatchObject({ protocol: 'ftps', port: 21, password: 'from-env' });
    expect(await get('implicit')).toMatchObject({ protocol: 'ftps-implicit', port: 990 });
    expect(await get('nobody')).toBeNull();
    await expect(get('secure')).rejects.toThrow(PermanentError);
    await expect(get('secure')).rejects.toThrow(/sftp is not taken from EDI profiles, because a profile has nowhere to pin the server's host key/);
    await expect(get('empty')).rejects.toThrow('EDI profile "empty" (xtbatch.ediprofile) has no server (ediprofile_option1 is empty)');
    // A login typed into the server field: said so, without the password (the message becomes the job's exit status).
    const creds = await get('creds').then(() => '', (e: Error) => e.message);
    expect(creds).toBe('EDI profile "creds" (xtbatch.ediprofile): server "ftp://ftpuser:***@127.0.0.1:47021/in": it holds a login (user@host): ' +
      'put the login and password in the profile\'s own fields, and only the host in the server field');
    await expect(get('mail')).rejects.toThrow('EDI profile "mail" (xtbatch.ediprofile) is of type "email", not "ftp": it cannot move files');
  });
});
