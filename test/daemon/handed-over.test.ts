import { DbHealth } from '../../src/daemon/dbHealth';
import { executeJob, JobStopped } from '../../src/daemon/execute';
import { JobStop } from '../../src/daemon/jobStop';
import { RunLease } from '../../src/daemon/jobLease';
import { LeaseKeeper, type LeaseLoss } from '../../src/daemon/leases';
import type { BatchRow } from '../../src/db/queries/batch';
import { LeaseLostError } from '../../src/errors';
import { emailHandler } from '../../src/handlers/email';
import type { JobContext } from '../../src/handlers';
import { parseParams } from '../../src/jobs/params';
import { silentLogger } from '../../src/log';
import { createMailer } from '../../src/mail/transport';
import { testConfig } from '../support/config';
import { startSmtp, type TestSmtp } from '../support/smtp';
import { smtpSection } from '../handlers/helpers';

// Found by the chaos tests (issue 13): under load a daemon's lease renewals were slow, and the deadline that stops a
// job before its lease can lapse fired AFTER the SMTP server had accepted the mail, while the daemon was still
// recording it in xtbatch.eml. The result was thrown away, the job ran again, and the mail went out twice. Once a
// mail is handed over, the job is past the point of no return: it is no longer stopped for its lease, and its
// outcome is written (guarded by the lease token on the server).

const log = silentLogger();
// The keeper's pool is never used here: no renewal runs (its timer is not started); deadlines are checked by hand.
const noPool = {} as never;
let smtp: TestSmtp;

beforeAll(async () => {
  smtp = await startSmtp();
});
afterAll(async () => {
  await smtp.close();
});

function job(id: number): BatchRow {
  return {
    batch_id: id, batch_action: 'Email', batch_attempts: 1, lease_token: `t${id}`, batch_email: `to${id}@example.test`,
    batch_fromemail: 'erp@example.test', batch_subject: `Invoice ${id}`, batch_responsebody: 'Attached.', params: [],
  } as unknown as BatchRow;
}

function keeperAt(clock: { t: number }): LeaseKeeper {
  return new LeaseKeeper(noPool, 'A', 3, new DbHealth(log, 1000), log, () => clock.t);
}

describe('a job whose work is handed over is not stopped for its lease', () => {
  it('the keeper stops a job past its deadline, but not once the job says its work is handed over', () => {
    const clock = { t: 0 };
    const keeper = keeperAt(clock);
    const lost: Array<[number, LeaseLoss]> = [];
    for (const id of [1, 2]) keeper.hold(id, `t${id}`, 0, (why) => lost.push([id, why]));
    new RunLease('A', job(2), keeper).handedOver();
    clock.t = keeper.timing.leaseMs; // renewal failed for the whole lease
    expect(keeper.checkDeadlines()).toBe(1);
    expect(lost).toEqual([[1, 'expired']]);
  });

  it('the Email handler checks the lease before sending: a daemon past its deadline sends nothing', async () => {
    const clock = { t: 0 };
    const keeper = keeperAt(clock);
    keeper.hold(3, 't3', 0, () => undefined);
    clock.t = keeper.timing.leaseMs;
    const mailer = createMailer({ smtp: smtpSection(smtp.port), outboxDir: '/nonexistent' });
    try {
      const before = smtp.messages.length;
      const err = await emailHandler(context(job(3), keeper, mailer)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LeaseLostError);
      expect(smtp.messages.length).toBe(before);
    } finally {
      mailer.close();
    }
  });

  it('the Email handler marks the job handed over once the server accepted it, before the mail is recorded', async () => {
    const clock = { t: 0 };
    const keeper = keeperAt(clock);
    const lost: LeaseLoss[] = [];
    keeper.hold(4, 't4', 0, (why) => lost.push(why));
    // Recording the sent mail is slow (a loaded database); meanwhile the lease deadline passes.
    const mailer = createMailer({ smtp: smtpSection(smtp.port), outboxDir: '/nonexistent' }, {
      onSent: async () => {
        clock.t = keeper.timing.leaseMs;
        expect(keeper.checkDeadlines()).toBe(0);
      },
    });
    try {
      const result = await emailHandler(context(job(4), keeper, mailer));
      expect(result).toMatchObject({ accepted: ['to4@example.test'] });
    } finally {
      mailer.close();
    }
    expect(lost).toEqual([]);
    expect(smtp.messages.filter((m) => m.envelope.to.includes('to4@example.test'))).toHaveLength(1);
  });
});

function context(j: BatchRow, keeper: LeaseKeeper, mailer: ReturnType<typeof createMailer>): JobContext {
  const cfg = testConfig('postgres://unused@127.0.0.1/none');
  return {
    job: j, params: parseParams(j.batch_id, []), log, signal: new AbortController().signal, pool: noPool, cfg,
    settings: { enabled: true, defaultFrom: null, purgeDays: null, createContacts: false, exclusions: [] },
    services: { mailer }, lease: new RunLease('A', j, keeper),
  };
}

describe('an ERP action that committed its work and "done" before a stop arrived', () => {
  it('is done (recorded, its notice sent), not counted as a lost lease', async () => {
    const clock = { t: 0 };
    const keeper = keeperAt(clock);
    const j = { ...job(5), batch_action: 'Committing' } as BatchRow;
    keeper.hold(5, 't5', 0, () => undefined);
    const lease = new RunLease('A', j, keeper);
    const controller = new JobStop();
    // The handler's transaction committed (commitDone sets `recorded`), then the stop lands before it returns.
    const handlers = new Map([['Committing', async () => {
      lease.recorded = true;
      controller.abort(new JobStopped('expired'));
      await new Promise((resolve) => setTimeout(resolve, 50));
      return { posted: 1 };
    }]]);
    const cfg = testConfig('postgres://unused@127.0.0.1/none');
    const settings = { enabled: true, defaultFrom: null, purgeDays: null, createContacts: false, exclusions: [] };
    const out = await executeJob(j, controller, { cfg, pool: noPool, handlers, services: { mailer: createMailer(cfg) }, settings: () => settings }, () => log, lease);
    expect(out).toMatchObject({ recorded: true, lostLease: null, finish: { kind: 'done', batchId: 5 } });
  });
});
