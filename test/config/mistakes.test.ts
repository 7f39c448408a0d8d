import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { ConfigError } from '../../src/errors';
import { killAll, removeTempDirs, runXt, tempDir } from '../support/proc';

// Issue 18: a config file with several mistakes names every one of them, so an administrator fixes the file in
// one go instead of one restart per mistake, and the program stops with exit code 2.

afterEach(async () => {
  await killAll();
});
afterAll(() => {
  removeTempDirs();
});

function file(yaml: string): string {
  const f = path.join(tempDir(), 'xtconnect.yaml');
  fs.writeFileSync(f, yaml);
  return f;
}

const TWO = 'daemon:\n  concurrency: 0\nsmtp:\n  host: mail.example.com\n  security: ssl\n';

describe('a config file with several mistakes', () => {
  it('names each of them, by key, in one error', () => {
    const f = file(TWO);
    let err: unknown;
    try {
      loadConfig({ config: f }, { HOME: '/home/erp' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).toContain(`${f}: 2 mistakes:`);
    expect(message).toContain('daemon.concurrency must be a whole number from 1 to 1000 (got 0)');
    expect(message).toContain('smtp.security must be one of tls, starttls, none (got "ssl")');
  });

  it('gathers mistakes of the schema and of the rules that join keys, list entries and the environment alike', () => {
    const f = file('mailboxes:\n  - name: sales\n    host: imap.example.com\n    port: 0\nlog:\n  level: loud\nendpoints:\n  - name: a\n    protocol: sftp\n    host: h\n    user: u\n    password: p\n');
    const env = { HOME: '/home/erp', XTCONNECT_LOG_LEVEL: 'noisy' };
    expect(() => loadConfig({ config: f }, env)).toThrow('2 mistakes:');
    expect(() => loadConfig({ config: f }, env)).toThrow('  - mailboxes[0].port must be a whole number from 1 to 65535 (got 0)');
    expect(() => loadConfig({ config: f }, env)).toThrow('  - XTCONNECT_LOG_LEVEL must be one of error, warn, info, debug (got "noisy")');
    // Once the schema's own checks pass, the rules that join keys are all reported too.
    const g = file('mailboxes:\n  - name: sales\n    host: imap.example.com\nendpoints:\n  - name: a\n    protocol: sftp\n    host: h\n    user: u\n    password: p\n');
    expect(() => loadConfig({ config: g }, { HOME: '/home/erp' })).toThrow(
      /3 mistakes:\n {2}- endpoints\[0\]\.hostKey \(a\): an sftp endpoint needs hostKey\.fingerprint.*\n {2}- mailboxes\[0\]\.user must be the login name.*\n {2}- mailboxes\[0\] \(sales\): a mailbox needs a password/,
    );
  });

  it('stops `xtconnect start` with exit code 2 and both mistakes on stderr', async () => {
    const r = await runXt(['start', '--config', file(TWO)]);
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 2, signal: null });
    expect(r.stderr).toContain('daemon.concurrency must be a whole number from 1 to 1000 (got 0)');
    expect(r.stderr).toContain('smtp.security must be one of tls, starttls, none (got "ssl")');
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});
