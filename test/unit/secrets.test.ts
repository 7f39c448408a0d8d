/**
 * The redactor (src/secrets.ts) and where it is applied to text that is not a log line: config errors. Cases
 * from an outside audit that made secrets leak (each failed before the change).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { registerSecret, redactSecrets, urlPasswords } from '../../src/secrets';

describe('redactSecrets', () => {
  it('hides a URL password whatever the user part and however the password is written', () => {
    // No user (PGUSER gives it), a raw "@" in the password, and the ordinary form.
    expect(redactSecrets('LISTEN on postgresql://:S3cr3t-DB-4c2e@127.0.0.1:47432/db')).toBe('LISTEN on postgresql://:***@127.0.0.1:47432/db');
    expect(redactSecrets('postgresql://pw_at:S3cr3t@DB-4c2e@127.0.0.1/db')).toBe('postgresql://pw_at:***@127.0.0.1/db');
    expect(redactSecrets('server "ftp://ftpuser:S3cr3t-FTP-77aa@127.0.0.1:47021/in": bad')).toBe('server "ftp://ftpuser:***@127.0.0.1:47021/in": bad');
    expect(redactSecrets('passphrase=hunter22 next')).toBe('passphrase=*** next');
  });

  it('hides a registered secret anywhere, with the base64 forms SMTP and IMAP logins send', () => {
    registerSecret('S3cr3t-SMTP-9d1f', { user: 'bob' });
    const echoed = `535 authentication failed for password "S3cr3t-SMTP-9d1f" (${Buffer.from('S3cr3t-SMTP-9d1f').toString('base64')}) ` +
      `plain ${Buffer.from('\u0000bob\u0000S3cr3t-SMTP-9d1f').toString('base64')}`;
    const out = redactSecrets(echoed);
    expect(out).toBe('535 authentication failed for password "***" (***) plain ***');
  });

  it('leaves short registered values to the patterns, so that job numbers are not garbled', () => {
    registerSecret('1234');
    expect(redactSecrets('job 12345 done')).toBe('job 12345 done');
  });

  it('finds the password of a URL that the URL parser would refuse (a raw space)', () => {
    expect(urlPasswords('postgresql://pw_sp:S3cr3t DB-4c2e@127.0.0.1:47432/db')).toEqual(['S3cr3t DB-4c2e']);
    expect(urlPasswords('postgresql://erp:p%40ss@db/erp')).toEqual(['p%40ss', 'p@ss']);
    expect(urlPasswords('postgresql://erp@db/erp')).toEqual([]);
  });
});

describe('config errors never repeat a secret', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xtc-secrets-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function errorOf(yaml: string, env: NodeJS.ProcessEnv = {}): string {
    const file = path.join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
    fs.writeFileSync(file, yaml);
    try {
      loadConfig({ config: file }, env);
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('the config was accepted');
  }

  it.each([
    ['a password of the wrong type', 'smtp:\n  host: mail.example.com\n  user: bob\n  password: 2024091799\n', '2024091799', /smtp\.password must be text \(got a value not shown here: it is a secret\)/],
    ['a password given as a list', 'smtp:\n  host: mail.example.com\n  user: bob\n  password: [S3cr3t-SMTP-9d1f]\n', 'S3cr3t-SMTP-9d1f', /smtp\.password must be text/],
    ['a database URL where a section belongs', 'database: postgresql://u:S3cr3t-DB-4c2e@db.example.com/erp\n', 'S3cr3t-DB-4c2e', /database must be .*postgresql:\/\/u:\*\*\*@db\.example\.com/],
    ['mailboxes written as a map', 'mailboxes:\n  sales:\n    host: imap.example.com\n    password: S3cr3t-IMAP-51b0\n', 'S3cr3t-IMAP-51b0', /mailboxes must be/],
    ['an endpoint host holding a URL', 'endpoints:\n  - name: up\n    protocol: ftp\n    host: "ftp://ftpuser:S3cr3t-FTP-77aa@127.0.0.1"\n    user: ftpuser\n', 'S3cr3t-FTP-77aa', /endpoints\[0\]\.host must be a host name/],
    ['smtp.host holding a URL', 'smtp:\n  host: "smtp://bob:S3cr3t-SMTP-9d1f@127.0.0.1"\n  user: bob\n  password: x\n', 'S3cr3t-SMTP-9d1f', /smtp\.host must be a host name or IP address \(no scheme, user or path; the port goes in smtp\.port\)/],
    ['a YAML syntax error on a password line', 'smtp:\n  host: mail.example.com\n  password: S3cr3t-SMTP-9d1f: oops\n', 'S3cr3t-SMTP-9d1f', /is not valid YAML: .*line 3, column \d+$/],
  ])('%s', (_what, yaml, secret, says) => {
    const message = errorOf(yaml);
    expect(message).toMatch(says);
    expect(message).not.toContain(secret);
  });
});
