/**
 * A 100 MB file up and down over FTP and SFTP, through the daemon: it arrives intact (same SHA-256), at a size
 * that a short or padded transfer would change.
 */
import path from 'node:path';
import type { TestDatabase } from '../support/db';
import { databaseSuite } from '../support/suite';
import { tempDir } from '../support/tempDirs';
import { finished, startTransferDaemon, submit, transferConfig } from './jobs';
import { filesUnder, sha256File, startFtp, startSftp, writePatternFile } from './servers';

const suite = databaseSuite('TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE');
const { daemons, servers } = suite;
let db: TestDatabase;
beforeAll(() => {
  db = suite.db;
});

const SIZE = 100 * 1024 * 1024 + 7;

it.each(['ftp', 'sftp'] as const)('%s moves 100 MB up and back down intact', async (protocol) => {
  let root: string;
  let endpoint: Record<string, unknown>;
  if (protocol === 'ftp') {
    const s = await startFtp();
    servers.push(s);
    root = s.root;
    endpoint = { name: 'partner', protocol, host: '127.0.0.1', port: s.port, user: s.user, password: s.password };
  } else {
    const s = await startSftp();
    servers.push(s);
    root = s.root;
    endpoint = { name: 'partner', protocol, host: '127.0.0.1', port: s.port, user: s.user, password: s.password, hostKey: { fingerprint: s.hostKey.fingerprint } };
  }
  const cfg = transferConfig(db.url, [endpoint]);
  daemons.push(await startTransferDaemon(cfg));
  const local = path.join(tempDir('xtc-large-'), 'large.bin');
  const sum = await writePatternFile(local, SIZE, 42);

  const up = await finished(db, await submit(db, 'FileUpload', { endpoint: 'partner', file: local }), 40_000);
  expect(up.batch_exitstatus).toBe('');
  expect(up.batch_result?.files).toEqual([{ name: 'large.bin', bytes: SIZE, local }]);
  expect(filesUnder(root)).toEqual(['large.bin']);
  expect(await sha256File(path.join(root, 'large.bin'))).toBe(sum);

  const down = await finished(db, await submit(db, 'FileDownload', { endpoint: 'partner', afterDownload: 'delete' }), 40_000);
  expect(down.batch_exitstatus).toBe('');
  expect(down.batch_result?.files).toEqual([{ name: 'large.bin', bytes: SIZE }]);
  expect(filesUnder(cfg.dataDir)).toEqual(['inbox/large.bin']);
  expect(await sha256File(path.join(cfg.dataDir, 'inbox', 'large.bin'))).toBe(sum);
  expect(filesUnder(root)).toEqual([]);
});
