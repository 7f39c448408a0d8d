/**
 * FTPS through a private CA: ftp-srv on loopback with certificates made by openssl (test/handlers/pki.ts), for a
 * config endpoint (endpoints[].tls) and for one of xTuple's FTP EDI profiles (ediProfiles.NAME.tls in the config).
 * Certificate failures fail the job at once, naming the reason and the key that fixes it.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../src/config';
import { parseEdiProfileOptions } from '../../src/config';
import { makePki, type ServerCert, type TestPki } from '../handlers/pki';
import type { TestDatabase } from '../support/db';
import { databaseSuite } from '../support/suite';
import { finished, startTransferDaemon, submit, transferConfig } from './jobs';
import { filesUnder, startFtp, type TestFtp } from './servers';

const suite = databaseSuite('TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE');
let db: TestDatabase;
let pki: TestPki;
beforeAll(() => {
  db = suite.db;
  pki = makePki();
});

async function ftps(cert: ServerCert): Promise<TestFtp> {
  const s = await startFtp({ tls: 'explicit', cert: { key: cert.key, cert: cert.cert } });
  suite.servers.push(s);
  return s;
}

async function daemon(endpoints: unknown[], ediProfiles: unknown = undefined): Promise<Config> {
  const cfg = transferConfig(db.url, endpoints);
  cfg.ediProfiles = parseEdiProfileOptions(ediProfiles, 'test config');
  suite.daemons.push(await startTransferDaemon(cfg));
  return cfg;
}

function endpoint(s: TestFtp, tls: Record<string, unknown> | undefined): Record<string, unknown> {
  return { name: 'partner', protocol: 'ftps', host: '127.0.0.1', port: s.port, user: s.user, password: s.password, timeoutMs: 5000, ...(tls ? { tls } : {}) };
}

function spoolFile(cfg: Config, name: string, content: string): void {
  fs.mkdirSync(cfg.spoolDir, { recursive: true });
  fs.writeFileSync(path.join(cfg.spoolDir, name), content);
}

describe('a config endpoint (endpoints[].tls)', () => {
  it('tls.caPath: the private CA vouches for the server and the file goes up', async () => {
    const s = await ftps(pki.good);
    const cfg = await daemon([endpoint(s, { caPath: pki.caPath })]);
    spoolFile(cfg, 'IN1.csv', 'a,b\n');
    const r = await finished(db, await submit(db, 'FileUpload', { endpoint: 'partner', file: 'IN1.csv' }));
    expect(r.batch_exitstatus).toBe('');
    expect(filesUnder(s.root)).toEqual(['IN1.csv']);
  });

  it.each<[string, () => ServerCert, boolean, RegExp]>([
    ['a CA the daemon does not know', () => pki.good, false, /: certificate not trusted \(signed by an unknown CA\); set endpoints\[partner\]\.tls\.caPath to the CA file/],
    ['a self-signed certificate', () => pki.selfSigned, false, /: certificate not trusted \(self-signed certificate\); set endpoints\[partner\]\.tls\.caPath/],
    ['a certificate for another name', () => pki.otherName, true, /: certificate does not match the host name; set endpoints\[partner\]\.tls\.servername/],
    ['an expired certificate', () => pki.expired, true, /: certificate expired; the server's administrator must renew its certificate/],
  ])('%s fails the job at once, naming the reason', async (_what, cert, withCa, says) => {
    const s = await ftps(cert());
    await daemon([endpoint(s, withCa ? { caPath: pki.caPath } : undefined)]);
    const r = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner' }, { batch_max_attempts: 5 }));
    expect(r.batch_attempts).toBe(1);
    expect(r.batch_exitstatus).toMatch(/^endpoint "partner" \(ftpes:\/\/127\.0\.0\.1:\d+\): /);
    expect(r.batch_exitstatus).toMatch(says);
  });
});

describe('an FTP EDI profile (ediProfiles.NAME.tls)', () => {
  /** xtbatch.ediprofile as xTuple's package has it (or as a migration made it), with one ftpes:// profile. */
  async function profile(s: TestFtp): Promise<() => Promise<void>> {
    const existed = (await db.pool.query(`SELECT to_regclass('xtbatch.ediprofile') IS NOT NULL AS e`)).rows[0].e as boolean;
    if (!existed) {
      await db.pool.query(`CREATE TABLE xtbatch.ediprofile (
        ediprofile_id serial PRIMARY KEY, ediprofile_name text NOT NULL UNIQUE, ediprofile_notes text, ediprofile_type text NOT NULL,
        ediprofile_option1 text, ediprofile_option2 text, ediprofile_option3 text, ediprofile_option4 text, ediprofile_option5 text,
        ediprofile_emailhtml boolean DEFAULT false)`);
    }
    await db.pool.query(`INSERT INTO xtbatch.ediprofile (ediprofile_name, ediprofile_type, ediprofile_option1, ediprofile_option2, ediprofile_option3, ediprofile_option4)
      VALUES ('ACME', 'ftp', $1, $2, $3, '')`, [`ftpes://127.0.0.1:${s.port}`, s.user, s.password]);
    return async () => {
      if (existed) await db.pool.query(`DELETE FROM xtbatch.ediprofile WHERE ediprofile_name = 'ACME'`);
      else await db.pool.query('DROP TABLE xtbatch.ediprofile');
    };
  }

  it('the CA given under ediProfiles.ACME.tls.caPath is trusted for the profile\'s server', async () => {
    const s = await ftps(pki.good);
    const drop = await profile(s);
    try {
      const cfg = await daemon([], { ACME: { tls: { caPath: pki.caPath } } });
      spoolFile(cfg, 'IN2.csv', 'x\n');
      const r = await finished(db, await submit(db, 'FileUpload', { endpoint: 'ACME', file: 'IN2.csv' }));
      expect(r.batch_exitstatus).toBe('');
      expect(filesUnder(s.root)).toEqual(['IN2.csv']);
    } finally {
      await drop();
    }
  });

  it('without it, the job fails at once and names ediProfiles.ACME.tls.caPath', async () => {
    const s = await ftps(pki.good);
    const drop = await profile(s);
    try {
      await daemon([]);
      const r = await finished(db, await submit(db, 'FileDownload', { endpoint: 'ACME' }, { batch_max_attempts: 5 }));
      expect(r.batch_attempts).toBe(1);
      expect(r.batch_exitstatus).toMatch(/^endpoint "ACME" \(ftpes:\/\/127\.0\.0\.1:\d+\): certificate not trusted \(signed by an unknown CA\); set ediProfiles\.ACME\.tls\.caPath to the CA file/);
    } finally {
      await drop();
    }
  });

  it('ediProfiles in the config is checked: unknown keys and relative paths are refused', () => {
    expect(() => parseEdiProfileOptions({ ACME: { tls: { caPath: 'ca.pem' } } }, 'f')).toThrow('f: ediProfiles.ACME.tls.caPath must be an absolute path');
    expect(() => parseEdiProfileOptions({ ACME: { ca: '/x' } }, 'f')).toThrow('f: unknown key "ediProfiles.ACME.ca"');
    expect(parseEdiProfileOptions({ ACME: { tls: { caPath: '/ca.pem', servername: 'ftp.acme' }, timeoutMs: 9000 } }, 'f'))
      .toEqual({ ACME: { tls: { caPath: '/ca.pem', servername: 'ftp.acme' }, timeoutMs: 9000 } });
  });
});
