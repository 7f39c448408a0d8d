/**
 * An Email job the daemon stops (its timeout passed) must stop its SMTP delivery too: the handler is given an
 * AbortSignal for that ("handlers pass it to their I/O"), and nodemailer's pool honours one.
 */
import type { TestDatabase } from '../support/db';
import { databaseSuite } from '../support/suite';
import { startDaemon } from '../support/daemon';
import { startSmtp } from '../support/smtp';
import { waitFor } from '../support/wait';
import { configMaker, finished, insertJob, jobRow, messagesFor, smtpSection } from './helpers';

const { config, cleanup } = configMaker();
const suite = databaseSuite(`TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE`);
const daemons = suite.daemons;
const servers = suite.servers;
let db: TestDatabase;
beforeAll(() => {
  db = suite.db;
});
afterAll(() => cleanup());

it('a job stopped by its timeout while the server stalls gives up its SMTP connection, so the next job is delivered', async () => {
  const smtp = await startSmtp();
  servers.push(smtp);
  smtp.mode = 'stall';
  // One SMTP connection: whatever holds it holds up every other Email job of this daemon.
  daemons.push(await startDaemon(config(db.url, { smtp: smtpSection(smtp.port, { maxConnections: 1 }) })));

  const stalled = await insertJob(db.pool, { batch_email: 'slow@example.com', batch_timeout_seconds: 1 });
  const a = await finished(db, stalled);
  expect(a.batch_exitstatus).toMatch(/^did not finish within its timeout of 1 s and was stopped/);
  expect(a.batch_attempts).toBe(1);

  // The stalled delivery was abandoned by its sender; the server accepts from now on.
  smtp.dropStalled();
  const next = await insertJob(db.pool, { batch_email: 'next@example.com' });
  // Without the abort, the timed-out delivery keeps the only connection until the socket timeout (60 s).
  const b = await waitFor(`job ${next} to be delivered while the stopped job ${stalled}'s SMTP delivery may still hold the only connection`,
    async () => {
      const r = await jobRow(db, next);
      return r.batch_completed !== null ? r : null;
    }, 8000);
  expect(b.batch_exitstatus).toBe('');
  expect(messagesFor(smtp, next)).toHaveLength(1);
  expect(messagesFor(smtp, stalled)).toHaveLength(0);
});
