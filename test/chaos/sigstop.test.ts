import { createTestDatabase, type TestDatabase } from '../support/db';
import { killAll, removeTempDirs } from '../support/proc';
import { waitFor } from '../support/wait';
import { startChaosDaemon, stopDaemon } from './support/daemons';
import { mergeExecutions, summary, tally } from './support/intervals';
import { countFinished, describeNotDone, erpExecutions, erpInProgress, installLedger, jobStates, submitErp, submitMail } from './support/jobs';
import { startRecordingSmtp, type RecordingSmtp } from './support/recordingSmtp';

// (a) A daemon frozen (SIGSTOP: a VM pause, a long GC, a swapped-out host) past its lease while it runs slow jobs:
// another daemon takes them back and runs them; then the frozen one wakes up (SIGCONT). It must commit nothing and
// deliver nothing for jobs it no longer holds: each job's work takes effect once, and no two executions of a job
// overlap in time. The mail server holds its answer to RCPT TO, so the frozen daemon is stopped before it has
// handed any message over: a mail it sends after waking is a mail sent without a lease. Each daemon has an SMTP
// server of its own, so what A delivered is told apart from what B did.

const LEASE_SECONDS = 3;
const SLOW_MS = 5000;

let db: TestDatabase;
/** A's mail server and B's. */
let smtpA: RecordingSmtp;
let smtpB: RecordingSmtp;

beforeAll(async () => {
  db = await createTestDatabase();
  await installLedger(db.pool);
  smtpA = await startRecordingSmtp({ rcptDelayMs: SLOW_MS });
  smtpB = await startRecordingSmtp({ rcptDelayMs: SLOW_MS });
});
afterAll(async () => {
  await killAll();
  await smtpA?.close();
  await smtpB?.close();
  await db?.drop();
  removeTempDirs();
});

describe('chaos (a): a daemon frozen past its lease', () => {
  it('wakes up to find its jobs run by another daemon, and neither commits, delivers nor overlaps them', async () => {
    const a = await startChaosDaemon({ url: db.url, smtpPort: smtpA.port, leaseSeconds: LEASE_SECONDS });
    const tokens = ['a1', 'a2', 'a3', 'a4'];
    const mail = await submitMail(db.pool, tokens);
    const erp = await submitErp(db.pool, 4, SLOW_MS);
    const all = [...mail.values(), ...erp];

    // A holds all eight and is inside each: the ERP functions run, every mail waits for its RCPT TO answer.
    await waitFor('A running all eight jobs', async () => {
      const s = await jobStates(db.pool, all);
      return s.size === all.length && [...s.values()].every((j) => j.state === 'running' && j.lockedBy === a.id);
    }, 20_000);
    await waitFor('the four ERP functions running', async () => (await erpInProgress(db.pool)) === 4, 10_000);
    await waitFor('the four mails at RCPT TO', () => tokens.every((t) => smtpA.transactions.some((x) => x.token === t && x.end === null)), 10_000);

    const frozenAt = Date.now();
    a.proc.signal('SIGSTOP');
    const b = await startChaosDaemon({ url: db.url, smtpPort: smtpB.port, leaseSeconds: LEASE_SECONDS });

    // B takes every job back once A's lease has expired. A wakes up while B is running them.
    await waitFor('B holding all eight jobs (taken back from A)', async () => {
      const s = await jobStates(db.pool, all);
      return [...s.values()].every((j) => j.lockedBy === b.id && j.attempts >= 2);
    }, 30_000, 20);
    const takenBackMs = Date.now() - frozenAt;
    // ... and is inside each of them when A wakes: the same jobs are then running twice, unless A stands down.
    await waitFor('B inside the four ERP functions', async () => (await erpInProgress(db.pool)) === 4, 10_000);
    await waitFor('B at RCPT TO of the four mails', () =>
      tokens.every((t) => smtpB.transactions.some((x) => x.token === t && x.end === null)), 10_000);
    a.proc.signal('SIGCONT');

    await waitFor('all eight jobs done', async () => (await countFinished(db.pool, all)).done === all.length, 30_000, 50);
    const recoverMs = Date.now() - frozenAt;
    // A's exit means it has done whatever it was going to do with the jobs it held: nothing may come later.
    await stopDaemon(a);
    await stopDaemon(b);

    const states = await jobStates(db.pool, all);
    const done = (id: number | undefined): boolean => id !== undefined && states.get(id)?.state === 'done';
    const erpT = tally(erp.map(String), await erpExecutions(db.pool), (k) => done(Number(k)));
    const mailT = tally(tokens, mergeExecutions(smtpA.deliveries(), smtpB.deliveries()), (t) => done(mail.get(t)));
    // A's mails were all waiting for RCPT TO when it froze: anything it delivered, it delivered without a lease.
    const deliveredByA = [...smtpA.deliveries().keys()];
    console.log(summary('(a) SIGSTOP past the lease', {
      jobs: all.length, lost: erpT.lost + mailT.lost, runTwice: erpT.runTwice + mailT.runTwice,
      overlapping: erpT.overlapping + mailT.overlapping, erpCommittedTwice: erpT.runTwice, mailDeliveredTwice: mailT.runTwice,
      mailDeliveredByWokenDaemon: deliveredByA.length, takenBackMs, recoverMs,
    }));

    expect(describeNotDone(states)).toEqual([]);
    expect({ erp: erpT.details, mailLost: mailT.lost, deliveredByA }).toEqual({ erp: [], mailLost: 0, deliveredByA: [] });
    if (mailT.runTwice > 0) console.log(`mails B delivered twice (not overlapping):\n${mailT.details.join('\n')}`);
    expect({ erpOverlapping: erpT.overlapping, mailOverlapping: mailT.overlapping }).toEqual({ erpOverlapping: 0, mailOverlapping: 0 });
    // Each job was finished by B, the daemon that held it.
    for (const id of all) expect(states.get(id)!.lockedBy).toBe(b.id);
  }, 90_000);
});
