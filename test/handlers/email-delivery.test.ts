/**
 * Email jobs against an SMTP server that is down, refuses, defers or wants a login: which failures are retried,
 * which fail the job at once, and what the row and the log say.
 */
import crypto from 'node:crypto';
import type { TestDatabase } from '../support/db';
import { databaseSuite } from '../support/suite';
import { startDaemon, type RunningDaemon } from '../support/daemon';
import { freePort, startSmtp, type TestSmtp } from '../support/smtp';
import { waitFor } from '../support/wait';
import { captureLogger, configMaker, finished, insertJob, jobRow, messagesFor, smtpSection } from './helpers';

const { config, cleanup } = configMaker();
const suite = databaseSuite(`TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE`);
const daemons = suite.daemons;
const servers = suite.servers;
let db: TestDatabase;
beforeAll(() => {
  db = suite.db;
});
afterAll(() => cleanup());

async function smtpServer(opts: Parameters<typeof startSmtp>[0] = {}): Promise<TestSmtp> {
  const s = await startSmtp(opts);
  servers.push(s);
  return s;
}

/** A daemon sending through 127.0.0.1:port; retries happen at once (backoff 0), up to maxAttempts. */
async function daemonFor(port: number, opts: { maxAttempts?: number; user?: string; password?: string; security?: 'starttls'; log?: ReturnType<typeof captureLogger>['log'] } = {}): Promise<RunningDaemon> {
  const cfg = config(db.url, {
    smtp: smtpSection(port, { user: opts.user ?? null, password: opts.password ?? null, ...(opts.security ? { security: opts.security } : {}) }),
    daemon: { maxAttempts: opts.maxAttempts ?? 5 },
    // Email retries by time with no attempt limit by default (docs/reliability.md); these tests count attempts.
    retry: { Email: { maxAttempts: opts.maxAttempts ?? 5 } },
  });
  const d = await startDaemon(cfg, {}, { log: opts.log });
  daemons.push(d);
  return d;
}

describe('SMTP server unreachable', () => {
  it('retries while nothing listens, then delivers exactly once when the server comes up', async () => {
    const port = await freePort();
    await daemonFor(port, { maxAttempts: 100 });
    const id = await insertJob(db.pool, { batch_email: 'patient@example.com', batch_subject: 'eventually' });

    const retrying = await waitFor('two failed attempts', async () => {
      const r = await jobRow(db, id);
      return r.batch_attempts >= 2 && r.batch_last_error ? r : null;
    });
    expect(retrying.batch_completed).toBeNull();
    expect(retrying.batch_last_error).toContain(`could not reach SMTP server 127.0.0.1:${port}`);
    expect(retrying.batch_exitstatus ?? '').toBe('');

    const smtp = await smtpServer({ port });
    const row = await finished(db, id);
    expect(row.batch_exitstatus).toBe('');
    expect(row.batch_attempts).toBeGreaterThanOrEqual(2);
    // The history of the outage stays readable on the finished row.
    expect(row.batch_last_error).toContain(`SMTP server 127.0.0.1:${port}`);
    const got = messagesFor(smtp, id);
    expect(got).toHaveLength(1);
    expect(got[0]!.parsed.subject).toBe('eventually');
    expect(smtp.messages).toHaveLength(1);
  });
});

describe('SMTP replies', () => {
  it('a 550 to the message fails the job at once with the server\'s words', async () => {
    const smtp = await smtpServer();
    smtp.mode = 'reject';
    await daemonFor(smtp.port);
    const id = await insertJob(db.pool, { batch_email: 'someone@example.com' });
    const row = await finished(db, id);
    expect(row.batch_attempts).toBe(1);
    expect(row.batch_exitstatus).toContain(`SMTP server 127.0.0.1:${smtp.port}`);
    expect(row.batch_exitstatus).toContain('5.7.1 message refused by policy');
    expect(row.batch_exitstatus).toMatch(/550/);
    expect(smtp.messages).toHaveLength(0);
  });

  it('a single recipient refused at RCPT TO fails the job at once, naming the recipient', async () => {
    const smtp = await smtpServer();
    smtp.rejectRecipients.add('gone@example.com');
    await daemonFor(smtp.port);
    const id = await insertJob(db.pool, { batch_email: 'gone@example.com' });
    const row = await finished(db, id);
    expect(row.batch_attempts).toBe(1);
    expect(row.batch_exitstatus).toContain(`SMTP server 127.0.0.1:${smtp.port} refused a recipient`);
    expect(row.batch_exitstatus).toContain('gone@example.com');
    expect(row.batch_exitstatus).toContain('5.1.1');
    expect(smtp.messages).toHaveLength(0);
  });

  it('when only some recipients are refused, the others get it once and the job fails saying who missed it', async () => {
    const smtp = await smtpServer();
    smtp.rejectRecipients.add('gone@example.com');
    await daemonFor(smtp.port);
    const id = await insertJob(db.pool, { batch_email: 'here@example.com, gone@example.com' });
    const row = await finished(db, id);
    // A person must act (the ERP shows a non-empty exit status as a failure), and nothing is sent twice.
    expect(row.batch_completed).not.toBeNull();
    expect(row.batch_attempts).toBe(1);
    expect(row.batch_exitstatus).toMatch(/^sent to here@example\.com, but the mail server refused gone@example\.com: 550 5\.1\.1 .*It was not sent again/);
    const got = messagesFor(smtp, id);
    expect(got).toHaveLength(1);
    expect(got[0]!.envelope.to).toEqual(['here@example.com']);
  });

  it('a relay without STARTTLS, with smtp.security starttls, fails the job naming smtp.security, not as a refused message', async () => {
    const smtp = await smtpServer(); // the test server offers no STARTTLS
    await daemonFor(smtp.port, { security: 'starttls' });
    const id = await insertJob(db.pool, { batch_email: 'someone@example.com' });
    const row = await finished(db, id);
    expect(row.batch_attempts).toBe(1);
    expect(row.batch_exitstatus).toMatch(new RegExp(`^SMTP server 127\\.0\\.0\\.1:${smtp.port} does not offer STARTTLS \\(it answered "5\\d\\d .*"\\): set smtp\\.security \\(XTCONNECT_SMTP_SECURITY\\) to "tls"`));
    expect(row.batch_exitstatus).not.toContain('rejected the message');
    expect(smtp.messages).toHaveLength(0);
  });

  it('a 451 is retried, and the message goes out once the server accepts again', async () => {
    const smtp = await smtpServer();
    smtp.mode = 'tempfail';
    await daemonFor(smtp.port, { maxAttempts: 100 });
    const id = await insertJob(db.pool, { batch_email: 'later@example.com' });
    const retrying = await waitFor('two deferred attempts', async () => {
      const r = await jobRow(db, id);
      return r.batch_attempts >= 2 && r.batch_last_error ? r : null;
    });
    expect(retrying.batch_completed).toBeNull();
    expect(retrying.batch_last_error).toContain(`SMTP server 127.0.0.1:${smtp.port} temporarily rejected the message`);
    expect(retrying.batch_last_error).toContain('4.3.0 try again later');
    expect(smtp.messages).toHaveLength(0);

    smtp.mode = 'accept';
    const row = await finished(db, id);
    expect(row.batch_exitstatus).toBe('');
    expect(messagesFor(smtp, id)).toHaveLength(1);
    expect(smtp.messages).toHaveLength(1);
  });

  it('a 451 that never clears fails the job when its attempts run out, with the last reply', async () => {
    const smtp = await smtpServer();
    smtp.mode = 'tempfail';
    await daemonFor(smtp.port, { maxAttempts: 3 });
    const id = await insertJob(db.pool, { batch_email: 'later@example.com' });
    const row = await finished(db, id);
    expect(row.batch_attempts).toBe(3);
    expect(row.batch_exitstatus).toMatch(/^gave up after 3 attempts; last error: SMTP server 127\.0\.0\.1:\d+ temporarily rejected the message: 451 4\.3\.0 try again later/);
    expect(smtp.messages).toHaveLength(0);
  });
});

describe('SMTP login', () => {
  const user = 'mailer';

  it('with the right user and password the message is delivered as that user, and the password is never logged', async () => {
    const password = `pw-${crypto.randomBytes(8).toString('hex')}`;
    const smtp = await smtpServer({ auth: { user, pass: password } });
    const { log, lines } = captureLogger();
    await daemonFor(smtp.port, { user, password, log });
    const id = await insertJob(db.pool, { batch_email: 'to@example.com' });
    const row = await finished(db, id);
    expect(row.batch_exitstatus).toBe('');
    const got = messagesFor(smtp, id);
    expect(got).toHaveLength(1);
    expect(got[0]!.user).toBe(user);

    expect(lines.some((l) => l.includes(`"batchId":${id}`) && l.includes('done in'))).toBe(true);
    expect(lines.filter((l) => l.includes(password))).toEqual([]);
    const { rows } = await db.pool.query<{ t: string }>(`SELECT row_to_json(b)::text AS t FROM xtbatch.batch b WHERE batch_id = $1`, [id]);
    expect(rows[0]!.t).not.toContain(password);
  });

  it('a server that quotes the refused password in its reply: neither the row nor the log shows it, nor its base64', async () => {
    const wrong = `pw-${crypto.randomBytes(8).toString('hex')}`;
    const smtp = await smtpServer({ auth: { user, pass: 'the-right-one' }, echoRefusedLogin: true });
    const { log, lines } = captureLogger();
    await daemonFor(smtp.port, { user, password: wrong, log });
    const id = await insertJob(db.pool, { batch_email: 'to@example.com' });
    const row = await finished(db, id);
    // The reply is there (so the test sees what the server said), with the password hidden.
    expect(row.batch_exitstatus).toContain('refused the login (535 Invalid password "***" (***) for');
    const { rows } = await db.pool.query<{ t: string }>(`SELECT row_to_json(b)::text AS t FROM xtbatch.batch b WHERE batch_id = $1`, [id]);
    for (const form of [wrong, Buffer.from(wrong).toString('base64')]) {
      expect(rows[0]!.t).not.toContain(form);
      expect(lines.filter((l) => l.includes(form))).toEqual([]);
    }
  });

  it('with a wrong password the job fails at once, says to fix smtp.user/smtp.password, and neither password is logged or stored', async () => {
    const right = `pw-${crypto.randomBytes(8).toString('hex')}`;
    const wrong = `pw-${crypto.randomBytes(8).toString('hex')}`;
    const smtp = await smtpServer({ auth: { user, pass: right } });
    const { log, lines } = captureLogger();
    await daemonFor(smtp.port, { user, password: wrong, log });
    const id = await insertJob(db.pool, { batch_email: 'to@example.com' });
    const row = await finished(db, id);
    expect(row.batch_attempts).toBe(1);
    expect(row.batch_exitstatus).toContain(`SMTP server 127.0.0.1:${smtp.port} refused the login`);
    expect(row.batch_exitstatus).toContain('535');
    expect(row.batch_exitstatus).toContain('fix smtp.user and smtp.password');
    expect(smtp.messages).toHaveLength(0);

    // The failure is in the log (so the capture works), without either password.
    expect(lines.some((l) => l.includes(`"batchId":${id}`) && l.includes('refused the login'))).toBe(true);
    for (const pw of [wrong, right]) {
      expect(lines.filter((l) => l.includes(pw))).toEqual([]);
      const { rows } = await db.pool.query<{ t: string }>(`SELECT string_agg(row_to_json(b)::text, '') AS t FROM xtbatch.batch b`);
      expect(rows[0]!.t).not.toContain(pw);
    }
  });
});
