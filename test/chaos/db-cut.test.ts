import { createTestDatabase, type TestDatabase } from '../support/db';
import { killAll, removeTempDirs } from '../support/proc';
import { startTcpProxy, type TcpProxy } from '../support/tcpProxy';
import { waitFor } from '../support/wait';
import { startChaosDaemon, stopDaemon } from './support/daemons';
import { mergeExecutions, summary, tally } from './support/intervals';
import { countFinished, describeNotDone, erpExecutions, erpInProgress, installLedger, jobStates, submitErp, submitMail } from './support/jobs';
import { startRecordingSmtp, type RecordingSmtp } from './support/recordingSmtp';

// (b) The network between daemon A and PostgreSQL fails while A runs slow jobs; daemon B, which still reaches the
// database, takes them back once A's lease has expired and runs them again. A cannot renew its lease, so it must
// stop its jobs before that lease expires: no mail of A's may be delivered, no ERP action of A's committed, after
// B could have taken the job. Two kinds of failure: connections reset at once (A hears about it), and a blackhole
// (everything dropped silently: A's queries simply never answer, and only A's own clock can tell it to stop).
//
// The mail server holds its answer to RCPT TO: a slow recipient check, during which A has not yet handed any
// message over, so stopping in time is always possible.

const LEASE_SECONDS = 3;
const RCPT_DELAY_MS = 8000;
const ERP_MS = 6000;
/** How late the SMTP server may record an end it sees: its event loop runs in the test process. */
const RECORD_SLACK_MS = 250;

let db: TestDatabase;
/** A's mail server and B's: what the cut-off daemon delivered is told apart from what the other did. */
let smtpA: RecordingSmtp;
let smtpB: RecordingSmtp;
let pgProxy: TcpProxy;

beforeEach(async () => {
  db = await createTestDatabase();
  await installLedger(db.pool);
  smtpA = await startRecordingSmtp({ rcptDelayMs: RCPT_DELAY_MS });
  smtpB = await startRecordingSmtp({ rcptDelayMs: RCPT_DELAY_MS });
  const direct = new URL(db.url);
  pgProxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
});
afterEach(async () => {
  await killAll();
  await pgProxy?.close();
  await smtpA?.close();
  await smtpB?.close();
  await db?.drop();
});
afterAll(() => removeTempDirs());

async function cutDuringSlowJobs(mode: 'reset' | 'blackhole'): Promise<void> {
  // B starts first and is frozen until the cut, so that it claims none of the jobs and its start-up (seconds on a
  // loaded machine) does not fall between A's claims and the cut, where A's slow jobs could finish.
  const b = await startChaosDaemon({ url: db.url, smtpPort: smtpB.port, leaseSeconds: LEASE_SECONDS });
  b.proc.signal('SIGSTOP');
  const a = await startChaosDaemon({ url: pgProxy.url(db.url), smtpPort: smtpA.port, leaseSeconds: LEASE_SECONDS });
  const tokens = ['b1', 'b2', 'b3', 'b4'];
  const mail = await submitMail(db.pool, tokens);
  const erp = await submitErp(db.pool, 4, ERP_MS);
  const all = [...mail.values(), ...erp];
  await waitFor('A running all eight jobs', async () => {
    const s = await jobStates(db.pool, all);
    return s.size === all.length && [...s.values()].every((j) => j.state === 'running' && j.lockedBy === a.id);
  }, 20_000);
  await waitFor('the four ERP functions running', async () => (await erpInProgress(db.pool)) === 4, 10_000);
  await waitFor('the four mails at RCPT TO', () => tokens.every((t) => smtpA.transactions.some((x) => x.token === t && x.end === null)), 10_000);

  // A's transaction of each mail, open at RCPT TO. Taken before the cut, not found afterwards by its start time:
  // MAIL FROM and RCPT TO come pipelined, so the last one may begin in the same millisecond as the cut.
  const aTx = new Map(tokens.map((t) => [t, smtpA.transactions.find((x) => x.token === t && x.end === null)!]));
  const cutAt = Date.now();
  if (mode === 'reset') await pgProxy.cut();
  else pgProxy.blackhole();
  b.proc.signal('SIGCONT');
  // The leases as the database has them: the last renewal that got through. B may take a job after this instant.
  const { rows } = await db.pool.query<{ id: number; expires: Date }>(
    'SELECT batch_id AS id, batch_lease_expires AS expires FROM xtbatch.batch WHERE batch_id = ANY ($1)', [all]);
  const unleased = rows.filter((r) => r.expires === null).map((r) => r.id);
  if (unleased.length > 0) throw new Error(`jobs ${unleased.join(', ')} ended before the cut: the slow jobs were not slow enough for this machine`);
  const expiry = new Map(rows.map((r) => [r.id, r.expires.getTime()]));

  await waitFor('all eight jobs done by B', async () => (await countFinished(db.pool, all)).done === all.length, 45_000, 50);
  const recoverMs = Date.now() - cutAt;
  // The network comes back; A may now write what it kept (nothing of it may count), then it stops.
  pgProxy.restore();
  await stopDaemon(a);
  await stopDaemon(b);

  const states = await jobStates(db.pool, all);
  const done = (id: number | undefined): boolean => id !== undefined && states.get(id)?.state === 'done';
  const erpT = tally(erp.map(String), await erpExecutions(db.pool), (k) => done(Number(k)));
  const mailT = tally(tokens, mergeExecutions(smtpA.deliveries(), smtpB.deliveries()), (t) => done(mail.get(t)));
  const deliveredByA = [...smtpA.deliveries().keys()];
  // A's own mail transactions (begun before the cut): each must have ended, undelivered, before its lease expired.
  const late = tokens.flatMap((t) => {
    const tx = aTx.get(t)!;
    const limit = expiry.get(mail.get(t)!)!;
    const iso = (ms: number | null): string => (ms === null ? 'never' : new Date(ms).toISOString().slice(11, 23));
    return tx.end === null || tx.end > limit + RECORD_SLACK_MS || tx.delivered
      ? [`${t}: A's transaction ended ${iso(tx.end)} (${tx.endReason ?? 'still open'}), its lease expired ${iso(limit)}`]
      : [];
  });
  // How long before its lease expired each of A's transactions ended (the fencing margin, as measured here).
  const margins = tokens.map((t) => {
    const tx = aTx.get(t)!;
    return tx.end === null ? -Infinity : expiry.get(mail.get(t)!)! - tx.end;
  });
  console.log(summary(`(b) database connection ${mode === 'reset' ? 'reset' : 'blackholed'} during slow jobs`, {
    jobs: all.length, lost: erpT.lost + mailT.lost, runTwice: erpT.runTwice + mailT.runTwice,
    overlapping: erpT.overlapping + mailT.overlapping, erpCommittedTwice: erpT.runTwice, mailDeliveredTwice: mailT.runTwice,
    mailDeliveredByCutOffDaemon: deliveredByA.length, stoppedAfterLease: late.length, minMarginBeforeLeaseMs: Math.round(Math.min(...margins)), recoverMs,
  }));

  expect(describeNotDone(states)).toEqual([]);
  expect({ erp: erpT.details, mailLost: mailT.lost, deliveredByA }).toEqual({ erp: [], mailLost: 0, deliveredByA: [] });
  if (mailT.runTwice > 0) console.log(`mails delivered twice (not overlapping):\n${mailT.details.join('\n')}`);
  expect({ erpOverlapping: erpT.overlapping, mailOverlapping: mailT.overlapping }).toEqual({ erpOverlapping: 0, mailOverlapping: 0 });
  expect(late).toEqual([]);
  for (const id of all) expect(states.get(id)!.lockedBy).toBe(b.id);
}

describe('chaos (b): the database cut off from a daemon during slow jobs', () => {
  it('connections reset: the cut-off daemon stops its jobs before its lease expires, the other re-runs them, no overlap', async () => {
    await cutDuringSlowJobs('reset');
  }, 90_000);

  it('connections blackholed (no error, no answer): the same, by the daemon\'s own clock', async () => {
    await cutDuringSlowJobs('blackhole');
  }, 90_000);
});
