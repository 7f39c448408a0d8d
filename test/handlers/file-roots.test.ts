import fs from 'node:fs';
import path from 'node:path';
import type { TestDatabase } from '../support/db';
import { databaseSuite } from '../support/suite';
import { testConfig } from '../support/config';
import { startDaemon } from '../support/daemon';
import { waitFor } from '../support/wait';

const suite = databaseSuite(`TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE`);
let db: TestDatabase;
beforeAll(() => {
  db = suite.db;
});

async function emailJob(filename: string): Promise<number> {
  const { rows } = await db.pool.query(
    `INSERT INTO xtbatch.batch (batch_action, batch_email, batch_fromemail, batch_subject, batch_filename)
     VALUES ('Email', 'to@example.com', 'erp@example.com', 'report', $1) RETURNING batch_id`, [filename]);
  return rows[0].batch_id;
}

async function finished(id: number) {
  return waitFor(`job ${id} finished`, async () => {
    const { rows } = await db.pool.query(`SELECT state, batch_exitstatus FROM xtbatch.job WHERE batch_id = $1`, [id]);
    return rows[0].state === 'done' || rows[0].state === 'failed' ? rows[0] : null;
  });
}

describe('files a job may name (fileRoots)', () => {
  it('attaches from the spool folder, and refuses a path or a link that leads outside it, naming the field', async () => {
    const cfg = testConfig(db.url);
    cfg.fileRoots = [cfg.spoolDir, cfg.inboxDir];
    suite.daemons.push(await startDaemon(cfg));
    fs.mkdirSync(cfg.spoolDir, { recursive: true });
    fs.writeFileSync(path.join(cfg.spoolDir, 'IN100.pdf'), '%PDF-1.4 test');
    fs.symlinkSync('/etc/hostname', path.join(cfg.spoolDir, 'sneaky.pdf'));

    const ok = await emailJob('IN100.pdf');
    const secret = await emailJob('/etc/hostname');
    const viaLink = await emailJob('sneaky.pdf');
    expect(await finished(ok)).toEqual({ state: 'done', batch_exitstatus: '' });
    const refused = await finished(secret);
    expect(refused.state).toBe('failed');
    expect(refused.batch_exitstatus).toBe(`job ${secret}: batch_filename names "/etc/hostname", which is outside the folders jobs may use ` +
      `(fileRoots: ${cfg.spoolDir}, ${cfg.inboxDir}); put the file in the spool folder, or add its folder to fileRoots in the config`);
    const linked = await finished(viaLink);
    expect(linked.state).toBe('failed');
    expect(linked.batch_exitstatus).toMatch(new RegExp(`^job ${viaLink}: batch_filename names ".*sneaky\\.pdf", which is outside the folders jobs may use`));
    expect(fs.readdirSync(cfg.outboxDir)).toEqual([`batch-${ok}.eml`]);
  });

  it('refuses a download inbox outside fileRoots before connecting anywhere', async () => {
    const cfg = testConfig(db.url);
    cfg.fileRoots = [cfg.spoolDir, cfg.inboxDir];
    suite.daemons.push(await startDaemon(cfg));
    // Job and parameters in one statement, as the ERP's transaction makes them: the running daemon must never see
    // the job without its parameters.
    const { rows } = await db.pool.query(
      `WITH b AS (INSERT INTO xtbatch.batch (batch_action) VALUES ('FileDownload') RETURNING batch_id),
            p AS (INSERT INTO xtbatch.batchparam (batchparam_batch_id, batchparam_order, batchparam_name, batchparam_value)
                  SELECT batch_id, o, n, v FROM b, (VALUES (1, 'endpoint', 'nowhere'), (2, 'inbox', '/etc/cron.d')) AS x(o, n, v))
       SELECT batch_id FROM b`);
    const id = rows[0].batch_id;
    const r = await finished(id);
    expect(r.state).toBe('failed');
    expect(r.batch_exitstatus).toMatch(new RegExp(`^job ${id}: parameter "inbox" names "/etc/cron.d", which is outside the folders jobs may use`));
  });
});
