/**
 * FileUpload and FileDownload jobs against a real FTP server (ftp-srv on loopback) in plain, explicit-TLS and
 * implicit-TLS mode, run by an in-process daemon: what moves, what the job row records, which failures are retried
 * and which fail at once, and what a hostile listing can and cannot do.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../src/config';
import type { TestDatabase } from '../support/db';
import { databaseSuite } from '../support/suite';
import { tempDir } from '../support/tempDirs';
import { waitFor } from '../support/wait';
import { finished, startTransferDaemon, submit, transferConfig } from './jobs';
import { filesUnder, startFtp, type TestFtp } from './servers';

const suite = databaseSuite('TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE');
const { daemons, servers } = suite;
let db: TestDatabase;
beforeAll(() => {
  db = suite.db;
});

type Proto = 'ftp' | 'ftps' | 'ftps-implicit';

async function server(protocol: Proto = 'ftp'): Promise<TestFtp> {
  const s = await startFtp({ tls: protocol === 'ftps' ? 'explicit' : protocol === 'ftps-implicit' ? 'implicit' : undefined });
  servers.push(s);
  return s;
}

function endpoint(s: TestFtp, protocol: Proto, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'partner',
    protocol,
    host: '127.0.0.1',
    port: s.port,
    user: s.user,
    password: s.password,
    ...(protocol === 'ftp' ? {} : { tls: { caPath: s.tls!.certPath } }),
    timeoutMs: 5000,
    ...over,
  };
}

async function daemonFor(endpoints: unknown[]): Promise<Config> {
  const cfg = transferConfig(db.url, endpoints);
  daemons.push(await startTransferDaemon(cfg));
  return cfg;
}

function put(dir: string, name: string, content: string | Buffer): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

describe.each<Proto>(['ftp', 'ftps', 'ftps-implicit'])('%s', (protocol) => {
  it('uploads a spool file and downloads matching files, each whole, leaving no temporary file on either side', async () => {
    const s = await server(protocol);
    const cfg = await daemonFor([endpoint(s, protocol)]);
    const invoice = Buffer.from('%PDF-1.4 invoice 60096\n'.repeat(500));
    put(cfg.spoolDir, 'IN60096.pdf', invoice);

    const up = await finished(db, await submit(db, 'FileUpload', { endpoint: 'partner', file: 'IN60096.pdf' }));
    expect(up.batch_exitstatus).toBe('');
    expect(up.batch_result).toMatchObject({ endpoint: 'partner', protocol, files: [{ name: 'IN60096.pdf', bytes: invoice.length }] });
    expect(filesUnder(s.root)).toEqual(['IN60096.pdf']);
    expect(fs.readFileSync(path.join(s.root, 'IN60096.pdf')).equals(invoice)).toBe(true);

    put(s.root, 'orders-1.csv', 'id,qty\n1,5\n');
    put(s.root, 'orders-2.csv', 'id,qty\n2,7\n');
    const down = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner', pattern: 'orders-*.csv' }));
    expect(down.batch_exitstatus).toBe('');
    const inbox = path.join(cfg.dataDir, 'inbox');
    expect(down.batch_result).toMatchObject({ endpoint: 'partner', inbox, files: [{ name: 'orders-1.csv', bytes: 11 }, { name: 'orders-2.csv', bytes: 11 }] });
    expect(filesUnder(inbox)).toEqual(['orders-1.csv', 'orders-2.csv']);
    expect(fs.readFileSync(path.join(inbox, 'orders-2.csv'), 'utf8')).toBe('id,qty\n2,7\n');
    // keep is the default: the server still has everything.
    expect(filesUnder(s.root)).toEqual(['IN60096.pdf', 'orders-1.csv', 'orders-2.csv']);
  });
});

describe('failures', () => {
  it('a refused login fails the job at once with the server\'s words', async () => {
    const s = await server();
    await daemonFor([endpoint(s, 'ftp', { password: 'wrong' })]);
    const r = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner' }));
    expect(r.batch_attempts).toBe(1);
    expect(r.batch_exitstatus).toMatch(/^endpoint "partner" \(ftp:\/\/127\.0\.0\.1:\d+\): login refused: 530 Login incorrect\.$/);
  });

  it('a remote folder that does not exist fails the job at once, naming it', async () => {
    const s = await server();
    await daemonFor([endpoint(s, 'ftp', { remoteDir: 'outbound' })]);
    const r = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner' }));
    expect(r.batch_attempts).toBe(1);
    expect(r.batch_exitstatus).toMatch(/no such remote folder "outbound" \(the server said: 550 .*\)/);
  });

  it('a server that refuses connections is retried until the attempts run out', async () => {
    const s = await server();
    const port = s.port;
    await s.close();
    servers.splice(0);
    await daemonFor([endpoint({ ...s, port } as TestFtp, 'ftp')]);
    const r = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner' }, { batch_max_attempts: 3 }));
    expect(r.batch_attempts).toBe(3);
    expect(r.batch_exitstatus).toMatch(/^gave up after 3 attempts; last error: endpoint "partner" .*ECONNREFUSED/);
  });

  it('an FTPS certificate that nothing vouches for fails the job at once', async () => {
    const s = await server('ftps');
    await daemonFor([endpoint(s, 'ftps', { tls: undefined })]);
    const r = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner' }));
    expect(r.batch_attempts).toBe(1);
    expect(r.batch_exitstatus).toMatch(/^endpoint "partner" \(ftpes:\/\/127\.0\.0\.1:\d+\): certificate not trusted \(self-signed certificate\); set endpoints\[partner\]\.tls\.caPath to the CA file/);
  });

  it('refuses unknown endpoints and misspelt parameters without connecting', async () => {
    const s = await server();
    await daemonFor([endpoint(s, 'ftp')]);
    const a = await finished(db, await submit(db, 'FileDownload', { endpoint: 'nobody' }));
    expect(a.batch_exitstatus).toBe(`job ${a.batch_id}: parameter "endpoint" names "nobody", which is neither an endpoint of test ` +
      '(it has partner) nor an FTP EDI profile in xtbatch.ediprofile');
    const b = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner', patern: '*.csv' }));
    expect(b.batch_exitstatus).toMatch(/^job \d+: parameter "patern" is not a FileDownload parameter/);
    const c = await finished(db, await submit(db, 'FileUpload', { endpoint: 'partner', file: 'missing.pdf' }));
    expect(c.batch_exitstatus).toMatch(/^job \d+: parameter "file" names "missing.pdf" but there is no such file/);
    const local = path.join(os.tmpdir(), `xtc-remote-name-${process.pid}.txt`);
    fs.writeFileSync(local, 'x');
    const d = await finished(db, await submit(db, 'FileUpload', { endpoint: 'partner', file: local, remoteName: '../x' }));
    fs.rmSync(local, { force: true });
    expect(d.batch_exitstatus).toMatch(/^job \d+: parameter "remoteName" "..\/x" contains a path separator/);
    for (const r of [a, b, c, d]) expect(r.batch_attempts).toBe(1);
    expect(s.connections).toBe(0);
  });
});

describe('a hostile listing', () => {
  // ".." itself never gets this far: basic-ftp drops "." and ".." from every listing.
  it.each([['../evil'], ['/etc/x'], ['..\\evil']])('with %p fails the job, naming the file, and writes nothing anywhere', async (bad) => {
    const s = await server();
    const cfg = await daemonFor([endpoint(s, 'ftp')]);
    put(s.root, 'good.csv', 'fine\n');
    s.fakeNames = [bad];
    const r = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner', afterDownload: 'delete' }));
    expect(r.batch_attempts).toBe(1);
    expect(r.batch_exitstatus).toContain(`remote file name ${JSON.stringify(bad)} (listed by endpoint "partner"`);
    expect(r.batch_exitstatus).toContain('nothing was downloaded');
    // Nothing at all in the data folder, inside or outside the inbox; the good file is still on the server.
    expect(filesUnder(cfg.dataDir)).toEqual([]);
    expect(filesUnder(s.root)).toEqual(['good.csv']);
  });
});

describe('the inbox', () => {
  it('never overwrites a file that is there: the new one gets a numbered name', async () => {
    const s = await server();
    const cfg = await daemonFor([endpoint(s, 'ftp')]);
    const inbox = tempDir('xtc-inbox-');
    put(inbox, 'orders.csv', 'yesterday\n');
    put(inbox, 'orders-1.csv', 'the day before\n');
    put(s.root, 'orders.csv', 'today\n');
    const r = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner', inbox, afterDownload: 'delete' }));
    expect(r.batch_exitstatus).toBe('');
    expect(r.batch_result?.files).toEqual([{ name: 'orders-2.csv', remoteName: 'orders.csv', bytes: 6 }]);
    expect(fs.readFileSync(path.join(inbox, 'orders.csv'), 'utf8')).toBe('yesterday\n');
    expect(fs.readFileSync(path.join(inbox, 'orders-1.csv'), 'utf8')).toBe('the day before\n');
    expect(fs.readFileSync(path.join(inbox, 'orders-2.csv'), 'utf8')).toBe('today\n');
    expect(filesUnder(s.root)).toEqual([]);
    expect(filesUnder(cfg.dataDir)).toEqual([]);
  });

  it('with ifExists=fail refuses before downloading anything; with keep, files already there are skipped', async () => {
    const s = await server();
    await daemonFor([endpoint(s, 'ftp')]);
    const inbox = tempDir('xtc-inbox-');
    put(inbox, 'b.csv', 'old\n');
    put(s.root, 'a.csv', 'new a\n');
    put(s.root, 'b.csv', 'new b\n');
    const failed = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner', inbox, ifExists: 'fail', afterDownload: 'delete' }));
    expect(failed.batch_attempts).toBe(1);
    expect(failed.batch_exitstatus).toBe(`the inbox ${inbox} already has "b.csv"; nothing was downloaded (ifExists is "fail")`);
    expect(filesUnder(inbox)).toEqual(['b.csv']);
    expect(filesUnder(s.root)).toEqual(['a.csv', 'b.csv']);

    const kept = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner', inbox }));
    expect(kept.batch_exitstatus).toBe('');
    expect(kept.batch_result?.files).toEqual([{ name: 'a.csv', bytes: 6 }]);
    expect(kept.batch_result?.skipped).toEqual(['b.csv']);
    expect(fs.readFileSync(path.join(inbox, 'b.csv'), 'utf8')).toBe('old\n');
  });
});

describe('after a download', () => {
  it('archive moves each remote file into the archive folder, numbering a name the archive already has', async () => {
    const s = await server();
    await daemonFor([endpoint(s, 'ftp', { remoteDir: 'out' })]);
    put(path.join(s.root, 'out', 'done'), 'orders.csv', 'last week\n');
    put(path.join(s.root, 'out'), 'orders.csv', 'this week\n');
    put(path.join(s.root, 'out'), 'notes.txt', 'not matched\n');
    const r = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner', pattern: '*.csv', archiveDir: 'done' }));
    expect(r.batch_exitstatus).toBe('');
    expect(r.batch_result?.files).toEqual([{ name: 'orders.csv', bytes: 10, archivedAs: 'done/orders-1.csv' }]);
    expect(filesUnder(s.root)).toEqual(['out/done/orders-1.csv', 'out/done/orders.csv', 'out/notes.txt']);
    expect(fs.readFileSync(path.join(s.root, 'out/done/orders-1.csv'), 'utf8')).toBe('this week\n');
  });

  it('delete removes exactly the files downloaded', async () => {
    const s = await server();
    const cfg = await daemonFor([endpoint(s, 'ftp')]);
    put(s.root, 'a.xml', '<a/>');
    put(s.root, 'b.xml', '<b/>');
    put(s.root, 'c.txt', 'c');
    const r = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner', pattern: '*.xml', afterDownload: 'delete' }));
    expect(r.batch_exitstatus).toBe('');
    expect(filesUnder(s.root)).toEqual(['c.txt']);
    expect(filesUnder(path.join(cfg.dataDir, 'inbox'))).toEqual(['a.xml', 'b.xml']);
  });
});

describe('xTuple EDI profiles', () => {
  it('an FTP profile in xtbatch.ediprofile is an endpoint; the config file\'s endpoints come first', async () => {
    const s = await server();
    await db.pool.query(`CREATE TABLE xtbatch.ediprofile (
      ediprofile_id serial PRIMARY KEY, ediprofile_name text NOT NULL UNIQUE, ediprofile_notes text, ediprofile_type text NOT NULL,
      ediprofile_option1 text, ediprofile_option2 text, ediprofile_option3 text, ediprofile_option4 text, ediprofile_option5 text,
      ediprofile_emailhtml boolean DEFAULT false)`);
    try {
      await db.pool.query(`INSERT INTO xtbatch.ediprofile (ediprofile_name, ediprofile_type, ediprofile_option1, ediprofile_option2, ediprofile_option3, ediprofile_option4)
        VALUES ('ACME', 'ftp', $1, $2, $3, 'edi-in'), ('ACME-MAIL', 'email', 'edi@acme.example', 'Invoice', '', '')`,
      [`127.0.0.1:${s.port}`, s.user, s.password]);
      fs.mkdirSync(path.join(s.root, 'edi-in'));
      const cfg = await daemonFor([endpoint(s, 'ftp', { name: 'other' })]);
      put(cfg.spoolDir, 'IN1.csv', 'invoice,1\n');
      const up = await finished(db, await submit(db, 'FileUpload', { file: 'IN1.csv' }, { batch_parameter: 'ACME' }));
      expect(up.batch_exitstatus).toBe('');
      expect(up.batch_result).toMatchObject({ endpoint: 'ACME', protocol: 'ftp', files: [{ name: 'IN1.csv', bytes: 10 }] });
      expect(filesUnder(s.root)).toEqual(['edi-in/IN1.csv']);
      const mail = await finished(db, await submit(db, 'FileUpload', { endpoint: 'ACME-MAIL', file: 'IN1.csv' }));
      expect(mail.batch_exitstatus).toBe('EDI profile "ACME-MAIL" (xtbatch.ediprofile) is of type "email", not "ftp": it cannot move files');
    } finally {
      await db.pool.query('DROP TABLE xtbatch.ediprofile');
    }
  });
});

describe('stopping a job', () => {
  it('a download that hangs shows only its hidden temporary file, is stopped at the job\'s timeout, and leaves nothing', async () => {
    const s = await server();
    const cfg = await daemonFor([endpoint(s, 'ftp', { timeoutMs: 60_000 })]);
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
    const cfg = await daemonFor([endpoint(s, 'ftp', { timeoutMs: 60_000 })]);
    put(cfg.spoolDir, 'IN9.pdf', Buffer.alloc(3_000_000, 2));
    s.stall = true;
    const id = await submit(db, 'FileUpload', { endpoint: 'partner', file: 'IN9.pdf' }, { batch_timeout_seconds: 2 });
    expect(await waitFor('the temporary file', () => filesUnder(s.root).length > 0 && filesUnder(s.root))).toEqual([`.IN9.pdf.xtc-${id}.part`]);
    const r = await finished(db, id);
    expect(r.batch_exitstatus).toMatch(/did not finish within its timeout of 2 s/);
    expect(filesUnder(s.root).filter((n) => !n.startsWith('.'))).toEqual([]);
  });
});
