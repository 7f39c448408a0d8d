import type { Config } from '../../src/config';
import { submitAction } from '../../src/db/queries/submit';
import { emailSyncHandler } from '../../src/handlers/emailSync';
import { scheduleFromConfig } from '../../src/schedule/fromConfig';
import { parseMailboxes } from '../../src/config';
import { jobRow, finished } from '../handlers/helpers';
import { testConfig } from '../support/config';
import { startDaemon } from '../support/daemon';
import { databaseSuite } from '../support/suite';
import { waitFor } from '../support/wait';
import { IMAP_PASSWORD, IMAP_USER, startImap, type TestImap } from './imapServer';
import { plain, RESET_SQL, subjects as emlSubjects } from './helpers';

const suite = databaseSuite(RESET_SQL + ' TRUNCATE xtbatch.schedule CASCADE;');
let imap: TestImap;

beforeEach(async () => {
  imap = await startImap();
  suite.servers.push(imap);
});

/** A config whose mailboxes: section holds "sales" (the test server) and any extra entries, as a file would. */
function config(extra: Array<Record<string, unknown>> = [], over: Parameters<typeof testConfig>[1] = {}): Config {
  const entries = [{ name: 'sales', host: '127.0.0.1', port: imap.port, security: 'none', user: IMAP_USER, password: IMAP_PASSWORD, timeoutMs: 2000 }, ...extra];
  return testConfig(suite.db.url, { ...over, mailboxes: parseMailboxes(entries, 'test', {}) });
}

const subjects = (): Promise<string[]> => emlSubjects(suite.db);

describe('EmailSync run by the daemon', () => {
  it('a config schedule "EmailSync every 1m" makes the daemon import new mail', async () => {
    imap.add('INBOX', plain({ subject: 'scheduled 1' }));
    imap.add('INBOX', plain({ subject: 'scheduled 2' }));
    const cfg = config([], { daemon: { schedulerIntervalSeconds: 1 } as Config['daemon'] });
    // Series of "every" count from their start: this one is due 3 s from now, not on the next full minute.
    const start = new Date(Date.now() - 57_000);
    cfg.schedules.push(scheduleFromConfig({ name: 'mail', action: 'EmailSync', every: '1m', start }, cfg.schedules.length, 'test'));
    suite.daemons.push(await startDaemon(cfg, { EmailSync: emailSyncHandler }));
    await waitFor('the scheduled EmailSync to import both messages', async () => (await subjects()).length === 2, 20_000);
    expect(await subjects()).toEqual(['scheduled 1', 'scheduled 2']);
    const id = await waitFor('the occurrence to be recorded as done', async () => (await suite.db.pool.query(
      `SELECT b.batch_id FROM xtbatch.batch b JOIN xtbatch.schedule s ON s.schedule_id = b.batch_schedule_id
        WHERE s.schedule_name = 'mail' AND b.batch_completed IS NOT NULL`)).rows[0]?.batch_id as number | undefined);
    const job = await jobRow(suite.db, id);
    expect(job.batch_exitstatus ?? '').toBe('');
    expect(job.batch_result).toMatchObject({ mailboxes: [{ mailbox: 'sales', folders: [{ folder: 'INBOX', imported: 2 }] }] });
  });

  it('the job parameter "mailbox" picks one mailbox; the others are not touched', async () => {
    imap.add('INBOX', plain({ subject: 'only sales' }));
    // "broken" points at a port nothing listens on: touching it would fail the job.
    const cfg = config([{ name: 'broken', host: '127.0.0.1', port: 1, security: 'none', user: 'u', password: 'p', timeoutMs: 1000 }]);
    suite.daemons.push(await startDaemon(cfg, { EmailSync: emailSyncHandler }));
    const id = await submitAction(suite.db.pool, 'EmailSync', null, null, [{ name: 'mailbox', value: 'SALES', type: 'QString' }]);
    const job = await finished(suite.db, id);
    expect(job.batch_exitstatus ?? '').toBe('');
    expect(await subjects()).toEqual(['only sales']);
  });

  it('a mailbox name the config does not have fails the job at once, naming the parameter', async () => {
    suite.daemons.push(await startDaemon(config(), { EmailSync: emailSyncHandler }));
    const id = await submitAction(suite.db.pool, 'EmailSync', null, null, [{ name: 'mailbox', value: 'nope', type: 'QString' }]);
    const job = await finished(suite.db, id);
    expect(job.batch_exitstatus).toContain(`job ${id}: mailbox names mailbox "nope", which the config does not have (it has: sales)`);
    expect(job.batch_attempts).toBe(1);
  });

  it('IMAP server down: the job fails with a retryable error naming the mailbox; once it is back the retry imports everything', async () => {
    imap.add('INBOX', plain({ subject: 'waited 1' }));
    imap.add('INBOX', plain({ subject: 'waited 2' }));
    await imap.stop();
    const cfg = config([], { daemon: { backoffBaseSeconds: 1, backoffMaxSeconds: 1, maxAttempts: 20 } as Config['daemon'] });
    suite.daemons.push(await startDaemon(cfg, { EmailSync: emailSyncHandler }));
    const id = await submitAction(suite.db.pool, 'EmailSync', null, null, []);
    const failed = await waitFor('a failed attempt', async () => {
      const r = await jobRow(suite.db, id);
      return r.batch_attempts >= 1 && r.batch_last_error ? r : null;
    });
    expect(failed.batch_last_error).toMatch(/attempt 1 of 20 failed: mailbox "sales" \(imap:\/\/sync@example\.net@127\.0\.0\.1:\d+\): .*(ECONNREFUSED|refused)/);
    expect(failed.batch_completed).toBeNull();
    await imap.start();
    const job = await finished(suite.db, id, 20_000);
    expect(job.batch_exitstatus ?? '').toBe('');
    expect(await subjects()).toEqual(['waited 1', 'waited 2']);
  });
});
