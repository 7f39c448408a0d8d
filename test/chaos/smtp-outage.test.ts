import { createTestDatabase, type TestDatabase } from '../support/db';
import { killAll, removeTempDirs } from '../support/proc';
import { waitFor } from '../support/wait';
import { startChaosDaemon, stopDaemon } from './support/daemons';
import { summary, tally } from './support/intervals';
import { describeNotDone, jobStates, submitMail } from './support/jobs';
import { startRecordingSmtp, type RecordingSmtp } from './support/recordingSmtp';

// (d) The mail relay is down (maintenance, a restart, a network fault) for longer than the daemon used to retry:
// 5 attempts over a capped exponential backoff, about 2.5 minutes with the defaults (10 s base), after which every
// queued mail failed for good. Mail must be retried by time, like a mail server does, and delivered once the relay
// is back. To keep the test short the backoff is 1 s doubling to 2 s, so the old window for the default 5 attempts
// is at most (1 + 2 + 2 + 2) s × 1.25 jitter = 8.75 s; the outage lasts until every mail has been tried more often
// than that and for longer than that.

const BACKOFF = { backoffBaseSeconds: 1, backoffMaxSeconds: 2 };
const OLD_MAX_ATTEMPTS = 5;
const OLD_WINDOW_MS = (1 + 2 + 2 + 2) * 1.25 * 1000;
const MAILS = 10;

let db: TestDatabase;
let smtp: RecordingSmtp;

beforeAll(async () => {
  db = await createTestDatabase();
  smtp = await startRecordingSmtp();
});
afterAll(async () => {
  await killAll();
  await smtp?.close();
  await db?.drop();
  removeTempDirs();
});

describe('chaos (d): an SMTP outage longer than the old retry window', () => {
  it('keeps every mail queued through the outage and delivers each once when the relay is back', async () => {
    await smtp.down();
    const downAt = Date.now();
    const d = await startChaosDaemon({ url: db.url, smtpPort: smtp.port, leaseSeconds: 3, daemon: { ...BACKOFF, maxAttempts: OLD_MAX_ATTEMPTS } });
    const tokens = Array.from({ length: MAILS }, (_, i) => `d${i}`);
    const mail = await submitMail(db.pool, tokens);
    const ids = [...mail.values()];

    // The outage lasts until every mail has been tried more times, and for longer, than the old window allowed
    // (or until one has failed for good, which is the bug).
    const during = await waitFor('every mail tried more often and longer than the old window, or one failed', async () => {
      const s = await jobStates(db.pool, ids);
      const failed = [...s.values()].some((j) => j.state === 'failed');
      const outlasted = [...s.values()].every((j) => j.attempts > OLD_MAX_ATTEMPTS) && Date.now() - downAt > OLD_WINDOW_MS;
      return failed || outlasted ? s : null;
    }, 60_000, 100);
    const outageMs = Date.now() - downAt;
    const failedDuringOutage = describeNotDone(new Map([...during].filter(([, j]) => j.state === 'failed')));

    await smtp.up();
    const upAt = Date.now();
    let recoverMs = -1;
    if (failedDuringOutage.length === 0) {
      await waitFor('every mail done after the relay came back', async () => {
        const s = await jobStates(db.pool, ids);
        return [...s.values()].every((j) => j.state === 'done');
      }, 30_000, 50);
      recoverMs = Date.now() - upAt;
    }
    await stopDaemon(d);

    const states = await jobStates(db.pool, ids);
    const t = tally(tokens, smtp.deliveries(), (tok) => states.get(mail.get(tok)!)?.state === 'done');
    const attempts = [...states.values()].map((s) => s.attempts);
    console.log(summary('(d) SMTP outage longer than the old retry window', {
      jobs: ids.length, lost: t.lost, runTwice: t.runTwice, overlapping: t.overlapping, outageMs,
      oldWindowMs: OLD_WINDOW_MS, attemptsMin: Math.min(...attempts), attemptsMax: Math.max(...attempts), recoverMs,
    }));

    expect(failedDuringOutage).toEqual([]);
    expect(describeNotDone(states)).toEqual([]);
    expect(t.details).toEqual([]);
    expect(t.overlapping).toBe(0);
    expect(outageMs).toBeGreaterThan(OLD_WINDOW_MS);
  }, 90_000);
});
