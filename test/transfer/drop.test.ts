/**
 * The server drops the connection in the middle of a file: the job is retried, and what is left afterwards is one
 * whole file under its final name, with no partial or temporary file on either side.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TestDatabase } from '../support/db';
import { databaseSuite } from '../support/suite';
import { tempDir } from '../support/tempDirs';
import { finished, startTransferDaemon, submit, transferConfig } from './jobs';
import { filesUnder, sha256File, startFtp, startSftp, writePatternFile, type Misbehaviour } from './servers';

const suite = databaseSuite('TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE');
const { daemons, servers } = suite;
let db: TestDatabase;
beforeAll(() => {
  db = suite.db;
});

const SIZE = 4 * 1024 * 1024 + 123;
const CUT = 1_500_000;

interface Setup {
  server: Misbehaviour;
  root: string;
  endpoint: Record<string, unknown>;
}

async function setup(protocol: 'ftp' | 'sftp'): Promise<Setup> {
  if (protocol === 'ftp') {
    const s = await startFtp();
    servers.push(s);
    return { server: s, root: s.root, endpoint: { name: 'partner', protocol, host: '127.0.0.1', port: s.port, user: s.user, password: s.password, timeoutMs: 5000 } };
  }
  const s = await startSftp();
  servers.push(s);
  return {
    server: s,
    root: s.root,
    endpoint: { name: 'partner', protocol, host: '127.0.0.1', port: s.port, user: s.user, password: s.password, hostKey: { fingerprint: s.hostKey.fingerprint }, timeoutMs: 5000 },
  };
}

describe.each(['ftp', 'sftp'] as const)('%s: a connection dropped mid-transfer', (protocol) => {
  it('on download is retried, and the inbox ends with the one whole file', async () => {
    const { server, root, endpoint } = await setup(protocol);
    const cfg = transferConfig(db.url, [endpoint]);
    daemons.push(await startTransferDaemon(cfg));
    const sum = await writePatternFile(path.join(root, 'big.bin'), SIZE, 7);
    server.dropAfter(CUT, 'download');
    const r = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner', afterDownload: 'delete' }));
    expect(r.batch_exitstatus).toBe('');
    expect(server.drops).toBe(1);
    expect(r.batch_attempts).toBe(2);
    expect(r.batch_result?.files).toEqual([{ name: 'big.bin', bytes: SIZE }]);
    expect(filesUnder(cfg.dataDir)).toEqual(['inbox/big.bin']);
    expect(await sha256File(path.join(cfg.dataDir, 'inbox', 'big.bin'))).toBe(sum);
    expect(filesUnder(root)).toEqual([]);
  });

  it('on upload is retried, and the server ends with the one whole file', async () => {
    const { server, root, endpoint } = await setup(protocol);
    daemons.push(await startTransferDaemon(transferConfig(db.url, [endpoint])));
    const local = path.join(tempDir('xtc-up-'), 'big.bin');
    const sum = await writePatternFile(local, SIZE, 8);
    server.dropAfter(CUT, 'upload');
    const r = await finished(db, await submit(db, 'FileUpload', { endpoint: 'partner', file: local }));
    expect(r.batch_exitstatus).toBe('');
    expect(server.drops).toBe(1);
    expect(r.batch_attempts).toBe(2);
    expect(filesUnder(root)).toEqual(['big.bin']);
    expect(fs.statSync(path.join(root, 'big.bin')).size).toBe(SIZE);
    expect(await sha256File(path.join(root, 'big.bin'))).toBe(sum);
  });
});

describe('ftp: a server that ends a download early but reports success', () => {
  it('is caught by the size check; the retry brings the whole file and nothing short is left', async () => {
    const { server, root, endpoint } = await setup('ftp');
    const cfg = transferConfig(db.url, [endpoint]);
    daemons.push(await startTransferDaemon(cfg));
    const sum = await writePatternFile(path.join(root, 'big.bin'), SIZE, 9);
    server.truncateNextDownload(CUT);
    const r = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner', afterDownload: 'delete' }));
    expect(r.batch_exitstatus).toBe('');
    expect(r.batch_attempts).toBe(2);
    expect(filesUnder(cfg.dataDir)).toEqual(['inbox/big.bin']);
    expect(await sha256File(path.join(cfg.dataDir, 'inbox', 'big.bin'))).toBe(sum);
    expect(filesUnder(root)).toEqual([]);
  });

  it('with one attempt allowed, fails saying how many bytes arrived and how many were listed', async () => {
    const { server, root, endpoint } = await setup('ftp');
    const cfg = transferConfig(db.url, [endpoint]);
    daemons.push(await startTransferDaemon(cfg));
    await writePatternFile(path.join(root, 'big.bin'), SIZE, 9);
    server.truncateNextDownload(CUT);
    const r = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner', afterDownload: 'delete' }, { batch_max_attempts: 1 }));
    expect(r.batch_exitstatus).toMatch(new RegExp(`"big.bin" arrived with ${CUT} bytes but the server lists ${SIZE}`));
    expect(filesUnder(cfg.dataDir)).toEqual([]);
    expect(filesUnder(root)).toEqual(['big.bin']);
  });
});
