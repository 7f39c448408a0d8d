import { writeConfigFile } from '../support/config';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { daemonYaml, killAll, removeTempDirs, spawnXt, tempDir } from '../support/proc';
import { startSmtp, type TestSmtp } from '../support/smtp';
import { startTcpProxy, type TcpProxy } from '../support/tcpProxy';
import { waitFor } from '../support/wait';

let db: TestDatabase; let smtp: TestSmtp; let pgProxy: TcpProxy;
beforeAll(async () => { db = await createTestDatabase(); });
beforeEach(async () => { smtp = await startSmtp(); const u = new URL(db.url); pgProxy = await startTcpProxy({ host: u.hostname, port: Number(u.port) }); });
afterEach(async () => { await killAll(); await pgProxy.close(); smtp.dropStalled(); await smtp.close(); await db.pool.query('TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE'); });
afterAll(async () => { await db.drop(); removeTempDirs(); });

for (let k = 0; k < 4; k++) {
  it('outage longer than lease ' + k, async () => {
    const dir = tempDir();
    const file = writeConfigFile(dir, daemonYaml({ url: pgProxy.url(db.url), smtpPort: smtp.port, dataDir: dir, daemon: { leaseSeconds: 9 } }));
    const proc = spawnXt(['start', '--config', file]);
    await proc.waitForLine(/daemon \S+ started/);
    smtp.mode = 'stall';
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) ids.push((await db.pool.query(`SELECT xtbatch.submitEmailToBatch('f@x.y','t@e.com',NULL,'s','b',NULL,NULL::timestamp,false,NULL,NULL) AS id`)).rows[0].id);
    await waitFor('running', async () => (await db.pool.query(`SELECT count(*)::int n FROM xtbatch.job WHERE state='running'`)).rows[0].n === 3);
    await pgProxy.cut();
    smtp.release();
    await smtp.waitForMessages(3);
    await waitFor('leases expired', async () => (await db.pool.query(`SELECT count(*)::int n FROM xtbatch.batch WHERE batch_lease_expires < now() - interval '1 second'`)).rows[0].n === 3, 20000, 100);
    pgProxy.restore();
    await waitFor('done', async () => (await db.pool.query(`SELECT count(*)::int n FROM xtbatch.job WHERE state='done'`)).rows[0].n === 3, 30000, 100);
    const r = await db.pool.query(`SELECT batch_id, batch_attempts, batch_last_error FROM xtbatch.batch ORDER BY 1`);
    console.log(smtp.messages.length, JSON.stringify(r.rows), proc.stderr.split('\n').filter((l) => /rescuer|not recorded|claimed/.test(l)).join('\n'));
  });
}
