import { createTestDatabase, type TestDatabase } from '../support/db';
import { killAll, removeTempDirs } from '../support/proc';
import { waitFor } from '../support/wait';
import { startChaosDaemon, stopDaemon, type ChaosDaemon } from './support/daemons';
import { summary, tally } from './support/intervals';
import { describeNotDone, erpExecutions, installLedger, jobStates, submitErp, submitMail } from './support/jobs';
import { startRecordingSmtp, type RecordingSmtp } from './support/recordingSmtp';

// (e) Three daemons share a queue of ERP actions and mail; one is killed outright (SIGKILL: the OOM killer, a
// power cut) in the middle of the run. Its jobs come back once its lease expires and the two others finish them.
// Nothing may be lost, no ERP action committed twice, no job run twice at the same time. A mail the killed daemon
// had handed over whole just before dying may arrive twice (the server took it, the daemon could not record that):
// that is the at-least-once the protocol leaves. Mails delivered twice are counted and shown (mailTwiceNotByKill:
// those the kill does not explain), not failed: two deliveries of a mail that do not overlap are at-least-once.

// Long enough that a survivor on a loaded machine keeps its leases: the fault here is the kill, not the load.
const LEASE_SECONDS = 6;
const ERP_JOBS = 300;
const ERP_MS = 200;
const MAIL_JOBS = 60;
/** How far apart the kill and the end of a delivery it cut short may be recorded (the server's loop is the test's). */
const RECORD_SLACK_MS = 500;

let db: TestDatabase;
let smtp: RecordingSmtp;

beforeAll(async () => {
  db = await createTestDatabase();
  await installLedger(db.pool);
  smtp = await startRecordingSmtp({ rcptDelayMs: 300 });
});
afterAll(async () => {
  await killAll();
  await smtp?.close();
  await db?.drop();
  removeTempDirs();
});

async function completed(): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM xtbatch.batch WHERE batch_completed IS NOT NULL');
  return rows[0]!.n;
}

describe('chaos (e): three daemons, one killed mid-run', () => {
  it('finishes every job exactly once on the two survivors, nothing run twice at the same time', async () => {
    const tokens = Array.from({ length: MAIL_JOBS }, (_, i) => `e${i}`);
    const mail = await submitMail(db.pool, tokens);
    const erp = await submitErp(db.pool, ERP_JOBS, ERP_MS);
    const all = [...mail.values(), ...erp];
    const daemons: ChaosDaemon[] = [];
    for (let i = 0; i < 3; i++) daemons.push(await startChaosDaemon({ url: db.url, smtpPort: smtp.port, leaseSeconds: LEASE_SECONDS }));
    const [victim, ...survivors] = daemons as [ChaosDaemon, ...ChaosDaemon[]];

    // Killed once a third of the work is done, while it holds jobs.
    await waitFor('a third of the jobs complete', async () => (await completed()) >= all.length / 3, 60_000, 50);
    await waitFor('the victim holding running jobs', async () => {
      const s = await jobStates(db.pool, all);
      return [...s.values()].some((j) => j.state === 'running' && j.lockedBy === victim.id);
    }, 10_000, 10);
    const killAt = Date.now();
    victim.proc.signal('SIGKILL');
    await victim.proc.waitForExit();
    const held = [...(await jobStates(db.pool, all))].filter(([, j]) => j.state === 'running' && j.lockedBy === victim.id).map(([id]) => id);

    await waitFor('the killed daemon\'s jobs finished by the others', async () => {
      const s = await jobStates(db.pool, held);
      return [...s.values()].every((j) => j.state === 'done' || j.state === 'failed');
    }, 60_000, 50);
    const recoverMs = Date.now() - killAt;
    await waitFor('every job finished', async () => (await completed()) === all.length, 60_000, 100);
    for (const d of survivors) await stopDaemon(d);

    const states = await jobStates(db.pool, all);
    const done = (id: number | undefined): boolean => id !== undefined && states.get(id)?.state === 'done';
    const erpT = tally(erp.map(String), await erpExecutions(db.pool), (k) => done(Number(k)));
    const deliveries = smtp.deliveries();
    const mailT = tally(tokens, deliveries, (t) => done(mail.get(t)));
    // The kill explains a second delivery only for a mail whose first delivery it cut short: accepted by the server
    // around the instant of the kill, before the daemon could record it.
    const iso = (ms: number): string => new Date(ms).toISOString().slice(11, 23);
    const unexcused = tokens.flatMap((t) => {
      const list = [...(deliveries.get(t) ?? [])].sort((x, y) => x.start - y.start);
      if (list.length < 2 || (list[0]!.start < killAt && Math.abs(list[0]!.end - killAt) <= RECORD_SLACK_MS)) return [];
      const id = mail.get(t)!;
      const logs = daemons.flatMap((d, i) => d.proc.lines.filter((l) => new RegExp(`batchId=${id}\\b|job ${id}\\b`).test(l)).map((l) => `daemon ${i}: ${l}`));
      return [`${t} (job ${id}, killed at ${iso(killAt)}): ${list.map((x) => `[${iso(x.start)}–${iso(x.end)}]`).join(' ')}\n    ${logs.join('\n    ')}`];
    });
    console.log(summary('(e) 3 daemons, one SIGKILLed mid-run', {
      jobs: all.length, lost: erpT.lost + mailT.lost, runTwice: erpT.runTwice + mailT.runTwice,
      overlapping: erpT.overlapping + mailT.overlapping, erpCommittedTwice: erpT.runTwice,
      mailDeliveredTwice: mailT.runTwice, mailTwiceNotByKill: unexcused.length, heldByKilled: held.length, recoverMs,
    }));

    if (unexcused.length > 0) {
      // Not a failure of this test (a mail may arrive twice when its sender loses its lease around the hand-over,
      // which a loaded machine can cause), but worth seeing: with the daemons' own warnings, to tell why.
      const warnings = daemons.flatMap((d, i) => d.proc.lines.filter((l) => / (warn|error) /.test(l) && !/batchId=/.test(l)).map((l) => `daemon ${i}: ${l}`));
      console.log(`mails delivered twice, not by the kill:\n${unexcused.join('\n')}\n${warnings.slice(0, 30).join('\n')}`);
    }
    expect(held.length).toBeGreaterThan(0);
    expect(describeNotDone(states)).toEqual([]);
    expect({ erp: erpT.details, mailLost: mailT.lost }).toEqual({ erp: [], mailLost: 0 });
    expect({ erpOverlapping: erpT.overlapping, mailOverlapping: mailT.overlapping }).toEqual({ erpOverlapping: 0, mailOverlapping: 0 });
  }, 90_000);
});
