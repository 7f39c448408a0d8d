/**
 * Smaller transfer faults of issue 13, item 7, against real servers on loopback (ftp-srv in its three modes,
 * ssh2's SFTP server): an empty file goes up over FTPS; an upload cut off mid-transfer leaves no ".part" file
 * (the clean-up runs on a new connection, not the broken one); a FileDownload whose archiveDir does not exist
 * fails before anything is downloaded.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../src/config';
import type { TestDatabase } from '../support/db';
import { databaseSuite } from '../support/suite';
import { finished, startTransferDaemon, submit, transferConfig } from './jobs';
import { filesUnder, startFtp, startSftp, type Misbehaviour } from './servers';

const suite = databaseSuite('TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE');
let db: TestDatabase;
beforeAll(() => {
  db = suite.db;
});

type Proto = 'ftp' | 'ftps' | 'ftps-implicit' | 'sftp';

interface Server extends Misbehaviour {
  root: string;
  close(): Promise<void>;
}

/** A server of the protocol and the endpoint entry that reaches it (named "partner"). */
async function serverFor(protocol: Proto): Promise<{ s: Server; ep: Record<string, unknown> }> {
  if (protocol === 'sftp') {
    const s = await startSftp();
    suite.servers.push(s);
    return { s, ep: { name: 'partner', protocol, host: '127.0.0.1', port: s.port, user: s.user, password: s.password,
      hostKey: { fingerprint: s.hostKey.fingerprint }, timeoutMs: 5000 } };
  }
  const s = await startFtp({ tls: protocol === 'ftps' ? 'explicit' : protocol === 'ftps-implicit' ? 'implicit' : undefined });
  suite.servers.push(s);
  return { s, ep: { name: 'partner', protocol, host: '127.0.0.1', port: s.port, user: s.user, password: s.password, timeoutMs: 5000,
    ...(protocol === 'ftp' ? {} : { tls: { caPath: s.tls!.certPath } }) } };
}

async function daemon(ep: Record<string, unknown>): Promise<Config> {
  const cfg = transferConfig(db.url, [ep]);
  suite.daemons.push(await startTransferDaemon(cfg));
  return cfg;
}

function spool(cfg: Config, name: string, content: string | Buffer): void {
  fs.mkdirSync(cfg.spoolDir, { recursive: true });
  fs.writeFileSync(path.join(cfg.spoolDir, name), content);
}

describe.each<Proto>(['ftps', 'ftps-implicit', 'ftp', 'sftp'])('%s', (protocol) => {
  it('uploads a 0-byte file (five in a row), each whole and under its final name, with no ".part" left', async () => {
    const { s, ep } = await serverFor(protocol);
    const cfg = await daemon(ep);
    for (let i = 1; i <= 5; i++) spool(cfg, `empty-${i}.txt`, '');
    for (let i = 1; i <= 5; i++) {
      const r = await finished(db, await submit(db, 'FileUpload', { endpoint: 'partner', file: `empty-${i}.txt` }, { batch_max_attempts: 1 }));
      expect(r.batch_exitstatus).toBe('');
      expect(r.batch_result?.files).toEqual([expect.objectContaining({ name: `empty-${i}.txt`, bytes: 0 })]);
    }
    expect(filesUnder(s.root)).toEqual([1, 2, 3, 4, 5].map((i) => `empty-${i}.txt`));
    for (const f of filesUnder(s.root)) expect(fs.statSync(path.join(s.root, f)).size).toBe(0);
  });

  it('an upload cut off mid-transfer leaves no ".part" file on the server (cleaned up over a new connection)', async () => {
    const { s, ep } = await serverFor(protocol);
    const cfg = await daemon(ep);
    spool(cfg, 'big.bin', Buffer.alloc(2_000_000, 7));
    s.dropAfter(300_000, 'upload');
    const r = await finished(db, await submit(db, 'FileUpload', { endpoint: 'partner', file: 'big.bin' }, { batch_max_attempts: 1 }));
    expect(s.drops).toBe(1);
    expect(r.batch_exitstatus).toMatch(/^gave up after 1 attempt|upload/);
    expect(filesUnder(s.root)).toEqual([]);
  });

  it('a FileDownload whose archiveDir does not exist fails at once, before anything is downloaded', async () => {
    const { s, ep } = await serverFor(protocol);
    const cfg = await daemon(ep);
    fs.writeFileSync(path.join(s.root, 'order-1.csv'), 'a\n');
    fs.writeFileSync(path.join(s.root, 'order-2.csv'), 'b\n');
    const r = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner', afterDownload: 'archive', archiveDir: 'archive/2026' }, { batch_max_attempts: 5 }));
    expect(r.batch_attempts).toBe(1);
    expect(r.batch_exitstatus).toMatch(new RegExp(`^job ${r.batch_id}: parameter "archiveDir" names "archive/2026", which is not a folder on endpoint "partner" .*; nothing was downloaded`));
    expect(filesUnder(path.join(cfg.dataDir, 'inbox'))).toEqual([]);
    expect(filesUnder(s.root)).toEqual(['order-1.csv', 'order-2.csv']);
    // With the folder there, the same job moves both.
    fs.mkdirSync(path.join(s.root, 'archive', '2026'), { recursive: true });
    const ok = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner', afterDownload: 'archive', archiveDir: 'archive/2026' }));
    expect(ok.batch_exitstatus).toBe('');
    expect(filesUnder(s.root)).toEqual(['archive/2026/order-1.csv', 'archive/2026/order-2.csv']);
  });
});
