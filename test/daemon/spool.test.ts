import fs from 'node:fs';
import path from 'node:path';
import { sweepSpool } from '../../src/purge/spoolFolders';
import { silentLogger } from '../../src/log';
import { databaseSuite } from '../support/suite';
import { tempDir } from '../support/tempDirs';

const suite = databaseSuite(`TRUNCATE xtbatch.batch, xtbatch.batchparam CASCADE`);

describe('spool sweep after purge', () => {
  it('removes the folders of jobs that no longer exist, and nothing else', async () => {
    const spool = tempDir('xtc-spool-');
    const { rows } = await suite.db.pool.query<{ batch_id: number }>(
      `INSERT INTO xtbatch.batch (batch_action) VALUES ('RunReport') RETURNING batch_id`);
    const live = rows[0]!.batch_id;
    const gone = live + 1000;
    const outside = tempDir('xtc-outside-');
    fs.writeFileSync(path.join(outside, 'keep.txt'), 'x');
    for (const d of [String(live), String(gone)]) {
      fs.mkdirSync(path.join(spool, d));
      fs.writeFileSync(path.join(spool, d, 'report.pdf'), 'pdf');
    }
    fs.mkdirSync(path.join(spool, 'notajob'));
    fs.writeFileSync(path.join(spool, String(gone + 1)), 'a file named like a job');
    // A link named like a purged job must not lead the sweep into another folder.
    fs.symlinkSync(outside, path.join(spool, String(gone + 2)));

    expect(await sweepSpool(suite.db.pool, spool, silentLogger())).toBe(1);
    expect(fs.readdirSync(spool).sort()).toEqual([String(live), String(gone + 1), String(gone + 2), 'notajob'].sort());
    expect(fs.readFileSync(path.join(outside, 'keep.txt'), 'utf8')).toBe('x');
    expect(await sweepSpool(suite.db.pool, path.join(spool, 'missing'), silentLogger())).toBe(0);
  });
});
