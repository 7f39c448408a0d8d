/**
 * SMTP through a private CA: a real smtp-server on loopback speaking TLS with certificates made by openssl for the
 * test (test/handlers/pki.ts). The daemon trusts the CA named by smtp.tls.caPath; every certificate failure fails
 * the job at once (one attempt) with the reason in words and the key that fixes it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { loadConfig } from '../../src/config';
import type { SmtpTls } from '../../src/mail/tlsConfig';
import type { TestDatabase } from '../support/db';
import { startDaemon } from '../support/daemon';
import { databaseSuite } from '../support/suite';
import { freePort } from '../support/smtp';
import { tempDir } from '../support/tempDirs';
import { configMaker, finished, insertJob, smtpSection } from './helpers';
import { makePki, type ServerCert, type TestPki } from './pki';

const { config, cleanup } = configMaker();
const suite = databaseSuite(`TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE`);
let db: TestDatabase;
let pki: TestPki;
beforeAll(() => {
  db = suite.db;
  pki = makePki();
});
afterAll(() => cleanup());

interface TlsSmtp {
  port: number;
  /** Envelope recipients of each message received. */
  received: string[][];
  close(): Promise<void>;
}

/** smtp-server with this certificate: TLS from the first byte ("tls"), or plain with STARTTLS offered ("starttls"). */
async function tlsSmtp(cert: ServerCert, mode: 'tls' | 'starttls', sendChain = false): Promise<TlsSmtp> {
  const port = await freePort();
  const received: string[][] = [];
  const server = new SMTPServer({
    secure: mode === 'tls',
    key: cert.key,
    cert: sendChain ? cert.chain : cert.cert,
    authOptional: true,
    disabledCommands: ['AUTH'],
    logger: false,
    closeTimeout: 500,
    onData(stream, session, cb) {
      stream.resume();
      stream.on('end', () => {
        received.push(session.envelope.rcptTo.map((r) => r.address));
        cb();
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const t: TlsSmtp = { port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  suite.servers.push(t);
  return t;
}

async function runJob(server: TlsSmtp, security: 'tls' | 'starttls', tls: Partial<SmtpTls>) {
  const d = await startDaemon(config(db.url, {
    smtp: smtpSection(server.port, { security, rejectUnauthorized: true, tls: { caPath: null, servername: null, minVersion: null, ...tls } }),
  }));
  suite.daemons.push(d);
  const id = await insertJob(db.pool, { batch_email: 'to@example.com', batch_max_attempts: 5 });
  return finished(db, id);
}

describe('SMTP with a private CA (smtp.tls.caPath)', () => {
  it.each(['tls', 'starttls'] as const)('security %s: the CA named by smtp.tls.caPath vouches for the server, and the mail goes out', async (security) => {
    const s = await tlsSmtp(pki.good, security);
    const row = await runJob(s, security, { caPath: pki.caPath });
    expect(row.batch_exitstatus).toBe('');
    expect(s.received).toEqual([['to@example.com']]);
  });

  it('smtp.tls.servername: a certificate for another name is accepted when the config names it', async () => {
    const s = await tlsSmtp(pki.otherName, 'tls');
    const row = await runJob(s, 'tls', { caPath: pki.caPath, servername: 'mail.other.example' });
    expect(row.batch_exitstatus).toBe('');
    expect(s.received).toHaveLength(1);
  });

  it('smtp.tls.minVersion TLSv1.3 is used for the connection', async () => {
    const s = await tlsSmtp(pki.good, 'tls');
    const row = await runJob(s, 'tls', { caPath: pki.caPath, minVersion: 'TLSv1.3' });
    expect(row.batch_exitstatus).toBe('');
  });
});

describe('certificate failures fail the job at once, naming the TLS reason and the key to set', () => {
  const cases: Array<[string, () => ServerCert, boolean, Partial<SmtpTls>, RegExp]> = [
    ['a self-signed certificate', () => pki.selfSigned, false, {}, /certificate not trusted \(self-signed certificate\); set smtp\.tls\.caPath to the CA file/],
    ['a chain ending in an untrusted root', () => pki.good, true, {}, /certificate not trusted \(self-signed certificate in chain\); set smtp\.tls\.caPath to the CA file/],
    ['a certificate from an unknown CA', () => pki.good, false, {}, /certificate not trusted \(signed by an unknown CA\); set smtp\.tls\.caPath to the CA file/],
    ['a certificate for another host name', () => pki.otherName, false, { caPath: 'CA' }, /certificate does not match the host name; set smtp\.tls\.servername/],
    ['an expired certificate', () => pki.expired, false, { caPath: 'CA' }, /certificate expired; the server's administrator must renew its certificate/],
  ];
  it.each(cases)('%s', async (_what, cert, chain, tls, message) => {
    const s = await tlsSmtp(cert(), 'tls', chain);
    const row = await runJob(s, 'tls', { ...tls, caPath: tls.caPath ? pki.caPath : null });
    expect(row.batch_attempts).toBe(1);
    expect(row.batch_exitstatus).toMatch(new RegExp(`^SMTP server 127\\.0\\.0\\.1:${s.port}: `));
    expect(row.batch_exitstatus).toMatch(message);
    expect(s.received).toEqual([]);
  });

  it('a CA file that cannot be read fails the job at once, naming smtp.tls.caPath', async () => {
    const s = await tlsSmtp(pki.good, 'tls');
    const row = await runJob(s, 'tls', { caPath: path.join(pki.dir, 'no-such-ca.pem') });
    expect(row.batch_attempts).toBe(1);
    expect(row.batch_exitstatus).toContain(`cannot read smtp.tls.caPath ${path.join(pki.dir, 'no-such-ca.pem')}`);
  });
});

describe('smtp.tls in the config file', () => {
  const load = (yaml: string) => {
    const file = path.join(tempDir('xtc-smtp-tls-'), 'xtconnect.yaml');
    fs.writeFileSync(file, yaml);
    return loadConfig({ config: file }, {});
  };

  it('reads caPath, servername, minVersion and rejectUnauthorized (in the section or, as before, under smtp)', () => {
    const cfg = load('smtp:\n  host: mail.example\n  tls:\n    caPath: /etc/xtconnect/ca.pem\n    servername: mail.internal\n    minVersion: TLSv1.3\n');
    expect(cfg.smtp).toMatchObject({ rejectUnauthorized: true, tls: { caPath: '/etc/xtconnect/ca.pem', servername: 'mail.internal', minVersion: 'TLSv1.3' } });
    expect(load('smtp:\n  host: h\n  rejectUnauthorized: false\n').smtp!.rejectUnauthorized).toBe(false);
    expect(load('smtp:\n  host: h\n  tls:\n    rejectUnauthorized: false\n').smtp!.rejectUnauthorized).toBe(false);
  });

  it.each([
    ['smtp:\n  host: h\n  tls:\n    caPath: ca.pem\n', 'smtp.tls.caPath must be an absolute path'],
    ['smtp:\n  host: h\n  tls:\n    minVersion: TLSv1\n', 'smtp.tls.minVersion must be one of TLSv1.2, TLSv1.3'],
    ['smtp:\n  host: h\n  tls:\n    cafile: /x\n', 'unknown key "smtp.tls.cafile"'],
    ['smtp:\n  host: h\n  rejectUnauthorized: true\n  tls:\n    rejectUnauthorized: false\n', 'disagree'],
  ])('%j is refused: %s', (yaml, says) => {
    expect(() => load(yaml)).toThrow(says);
  });
});
