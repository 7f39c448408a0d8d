import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { waitFor } from '../support/wait';
import { overlaps, tally } from './support/intervals';
import { erpExecutions, installLedger } from './support/jobs';
import { startRecordingSmtp, tokenAddress, type RecordingSmtp } from './support/recordingSmtp';

// The chaos tests are only as good as what records the executions: these check the recorders themselves, so
// that a chaos test passing means nothing ran twice, not that the recorder missed it.

describe('execution intervals', () => {
  it('finds overlap only where two executions share time', () => {
    expect(overlaps([{ start: 0, end: 10 }, { start: 10, end: 20 }])).toBe(false);
    expect(overlaps([{ start: 10, end: 20 }, { start: 0, end: 11 }])).toBe(true);
    expect(overlaps([{ start: 0, end: 100 }, { start: 20, end: 30 }, { start: 40, end: 50 }])).toBe(true);
    expect(overlaps([{ start: 0, end: 1 }])).toBe(false);
  });

  it('counts lost, twice and overlapping jobs', () => {
    const ex = new Map([
      ['1', [{ start: 0, end: 5 }]],
      ['2', [{ start: 0, end: 5 }, { start: 6, end: 9 }]],
      ['3', [{ start: 0, end: 5 }, { start: 4, end: 9 }]],
    ]);
    const t = tally(['1', '2', '3', '4'], ex, (k) => k !== '1');
    expect({ jobs: t.jobs, lost: t.lost, runTwice: t.runTwice, overlapping: t.overlapping }).toEqual({ jobs: 4, lost: 2, runTwice: 2, overlapping: 1 });
  });
});

describe('the recording SMTP server', () => {
  let smtp: RecordingSmtp;
  afterEach(async () => smtp?.close());

  const transport = (port: number) => nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, logger: false });

  it('records a delivered message with its start and end, under the token of its recipient', async () => {
    smtp = await startRecordingSmtp({ rcptDelayMs: 200 });
    const t0 = Date.now();
    await transport(smtp.port).sendMail({ from: 's@example.test', to: tokenAddress('x1'), subject: 's', text: 'b' });
    const d = smtp.deliveries().get('x1')!;
    expect(d).toHaveLength(1);
    expect(d[0]!.start).toBeGreaterThanOrEqual(t0);
    expect(d[0]!.end - d[0]!.start).toBeGreaterThanOrEqual(190);
  });

  it('does not count a message whose client went away before the answer, and ends its transaction then', async () => {
    smtp = await startRecordingSmtp({ dataHoldMs: 1000 });
    const ac = new AbortController();
    const sending = transport(smtp.port).sendMail({ from: 's@example.test', to: tokenAddress('x2'), subject: 's', text: 'b', signal: ac.signal } as Mail.Options);
    sending.catch(() => undefined);
    await waitFor('the whole message at the server', () => smtp.transactions.some((x) => x.dataEndAt !== null));
    const abortedAt = Date.now();
    ac.abort();
    await expect(sending).rejects.toBeDefined();
    const tx = await waitFor('the transaction ended', () => smtp.transactions.find((x) => x.end !== null));
    expect(tx).toMatchObject({ token: 'x2', delivered: false, endReason: 'closed' });
    expect(tx.end! - abortedAt).toBeLessThan(1000);
    // Not delivered either once the server's hold has run out (a fixed wait: what is checked is that nothing happens).
    await new Promise((r) => setTimeout(r, 1200));
    expect(smtp.deliveries().size).toBe(0);
  });
});

describe('the ERP action ledger', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await installLedger(db.pool);
  });
  afterAll(async () => db?.drop());

  it('keeps one row per committed execution, stamped at commit, and none for a rolled-back one', async () => {
    const c = await db.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('SELECT chaos.slow_action(101, 0)');
      await c.query('ROLLBACK');
      await c.query('BEGIN');
      await c.query('SELECT chaos.slow_action(102, 50)');
      await new Promise((r) => setTimeout(r, 300));
      await c.query('COMMIT');
    } finally {
      c.release();
    }
    const ex = await erpExecutions(db.pool);
    expect([...ex.keys()]).toEqual(['102']);
    const [run] = ex.get('102')!;
    // Started at the call, committed after the 300 ms the transaction stayed open: the interval spans both.
    expect(run!.end - run!.start).toBeGreaterThanOrEqual(340);
  });
});
