/**
 * The record of a job's sent mail is written in the statement that writes the job's outcome (issue 17: one
 * statement fewer per group of jobs finishing together). Real PostgreSQL, a real SMTP server on loopback, the
 * daemon's own mailer and recorder. What must hold: every sent mail recorded once, also when the outcome is fenced
 * off, and a record the database refuses never costs its job's outcome.
 */
import crypto from 'node:crypto';
import { Completer } from '../../src/daemon/completer';
import { createPool, endPool, type Pool } from '../../src/db/pool';
import { claimDue, finishMany, nextLeaseToken, type Finish } from '../../src/db/queries/batch';
import { captureLogger, configMaker, insertJob, smtpSection } from '../handlers/helpers';
import { daemonWithOwnMailer, jobState, watchNamedQueries } from '../support/daemon';
import { sentMailRecord } from '../support/sentMail';
import { databaseSuite } from '../support/suite';
import { startSmtp } from '../support/smtp';
import { waitFor } from '../support/wait';
import { RESET_SQL } from '../sync/helpers';

const suite = databaseSuite(`${RESET_SQL} TRUNCATE xtbatch.daemon CASCADE;`);
const { config, cleanup } = configMaker();
afterAll(cleanup);

async function claimedJob(owner: string): Promise<{ id: number; attempt: number; token: string }> {
  const id = await insertJob(suite.db.pool, { batch_email: 'a@customer.example', batch_subject: 'claimed' });
  const [row] = await claimDue(suite.db.pool, owner, 1, 60, [], [], nextLeaseToken());
  expect(row!.batch_id).toBe(id);
  return { id, attempt: row!.batch_attempts, token: row!.lease_token! };
}

async function recorded(): Promise<Array<{ subj: string; status: string; addrs: string }>> {
  const { rows } = await suite.db.pool.query(
    `SELECT eml_subj AS subj, eml_status AS status,
            (SELECT string_agg(emladdr_type || ' ' || emladdr_addr || ' ' || emladdr_name, ', ' ORDER BY emladdr_id) FROM xtbatch.emladdr WHERE emladdr_eml_id = eml_id) AS addrs
       FROM xtbatch.eml ORDER BY eml_subj`);
  return rows;
}

const state = (id: number): Promise<string> => jobState(suite.db.pool, id);

describe('the records of sent mail written with the jobs\' outcomes', () => {
  it('a daemon with its own mailer: every job done, each mail recorded once with its addresses, in the outcomes\' statements', async () => {
    const smtp = await startSmtp();
    suite.servers.push(smtp);
    const cfg = config(suite.db.url, { smtp: smtpSection(smtp.port) });
    const log = captureLogger();
    const names: string[] = [];
    const daemon = daemonWithOwnMailer(cfg, log.log, (name) => names.push(name));
    const ids: number[] = [];
    const c = await suite.db.pool.connect();
    try {
      await c.query('BEGIN');
      for (let i = 0; i < 30; i++) ids.push(await insertJob(c, { batch_email: `"Customer ${i}" <c${i}@customer.example>`, batch_subject: `Invoice ${100 + i}` }));
      await c.query('COMMIT');
    } finally {
      c.release();
    }
    await daemon.start();
    try {
      await waitFor('30 jobs done', async () => (await suite.db.pool.query(
        `SELECT count(*)::int AS n FROM xtbatch.job WHERE batch_id = ANY ($1) AND state = 'done'`, [ids])).rows[0].n === 30, 20_000);
    } finally {
      await daemon.stop();
    }
    expect(await smtp.waitForMessages(30)).toHaveLength(30);
    const rows = await recorded();
    expect(rows).toHaveLength(30);
    rows.forEach((r, i) => {
      expect(r).toEqual({ subj: `Invoice ${100 + i}`, status: 'O', addrs: `FROM sender@example.com , TO c${i}@customer.example Customer ${i}` });
    });
    // No record took a statement of its own: each went with its job's outcome.
    expect(names).not.toContain('xtconnect-record-sent');
    expect(names.filter((n) => n === 'xtconnect_finish_sent').length).toBeGreaterThan(0);
    expect(log.lines.filter((l) => /xtbatch\.eml|could not be recorded/.test(l))).toEqual([]);
  });

  it('a fenced-off outcome (the job claimed again since) is not written, but the mail it sent is recorded', async () => {
    const job = await claimedJob('A');
    const stale: Finish = { batchId: job.id, attempt: job.attempt, token: String(BigInt(job.token) + 1n), kind: 'done', message: null, delaySeconds: 0, result: null,
      sentMail: [sentMailRecord('Fenced 1', 'x@customer.example', { toName: 'Someone' })] };
    expect([...(await finishMany(suite.db.pool, 'A', [stale]))]).toEqual([]);
    expect(await state(job.id)).toBe('running');
    expect(await recorded()).toEqual([{ subj: 'Fenced 1', status: 'O', addrs: 'FROM erp@ourco.example , TO x@customer.example Someone' }]);
  });

  it('the same bytes twice among the outcomes give one row; a mail already recorded gives none', async () => {
    const [a, b] = [await claimedJob('A'), await claimedJob('A')];
    const mail = sentMailRecord('Twice', 'y@customer.example', { toName: 'Someone' });
    const f = (j: typeof a): Finish => ({ batchId: j.id, attempt: j.attempt, token: j.token, kind: 'done', message: null, delaySeconds: 0, result: null, sentMail: [mail] });
    expect([...(await finishMany(suite.db.pool, 'A', [f(a), f(b)]))].sort()).toEqual([a.id, b.id].sort());
    const again = await claimedJob('A');
    await finishMany(suite.db.pool, 'A', [f(again)]);
    expect(await recorded()).toEqual([{ subj: 'Twice', status: 'O', addrs: 'FROM erp@ourco.example , TO y@customer.example Someone' }]);
  });

  it('a record the database refuses: the outcomes are written without the records, the good record apart, the bad one logged', async () => {
    const [a, b] = [await claimedJob('A'), await claimedJob('A')];
    const log = captureLogger();
    const completer = new Completer(suite.db.pool as Pool, 'A', log.log);
    // PostgreSQL text cannot hold NUL: the outcomes' statement is refused (22021), not the network's fault.
    completer.push({ batchId: a.id, attempt: a.attempt, token: a.token, kind: 'done', message: null, delaySeconds: 0, result: null, sentMail: [sentMailRecord('Bad\u0000subject', 'z@customer.example', { toName: 'Someone' })] });
    completer.push({ batchId: b.id, attempt: b.attempt, token: b.token, kind: 'done', message: null, delaySeconds: 0, result: null, sentMail: [sentMailRecord('Good', 'g@customer.example', { toName: 'Someone' })] });
    expect(await completer.drain(10_000)).toBe(true);
    expect([await state(a.id), await state(b.id)]).toEqual(['done', 'done']);
    await waitFor('the good record written apart', async () => (await recorded()).length === 1);
    expect(await recorded()).toEqual([{ subj: 'Good', status: 'O', addrs: 'FROM erp@ourco.example , TO g@customer.example Someone' }]);
    await waitFor('the bad record logged', () => log.lines.some((l) => l.includes('could not be recorded in xtbatch.eml')));
    expect(log.lines.filter((l) => /writing the records apart/.test(l))).toHaveLength(1);
    expect(log.lines.some((l) => /could not record the outcome/.test(l))).toBe(false);
  });

  it('a statement carries at most 4 MB of messages: outcomes with big mail are written in more statements', async () => {
    const jobs = [await claimedJob('A'), await claimedJob('A'), await claimedJob('A')];
    const log = captureLogger();
    const pool = createPool({ url: suite.db.url, max: 2, statementTimeoutMs: 0, applicationName: 'xtconnect test completer' }, log.log);
    try {
      const names: string[] = [];
      watchNamedQueries(pool, (name) => names.push(name));
      const completer = new Completer(pool, 'A', log.log);
      // 2.5 MB each: the first goes at once; the next two, queued meanwhile, would be 5 MB together.
      jobs.forEach((j, i) => {
        const mail = sentMailRecord(`Big ${i}`, 'b@customer.example', { toName: 'Someone' });
        const raw = Buffer.concat([mail.raw, Buffer.alloc(2.5 * 1024 * 1024, 0x41)]);
        completer.push({ batchId: j.id, attempt: j.attempt, token: j.token, kind: 'done', message: null, delaySeconds: 0, result: null,
          sentMail: [{ ...mail, raw, hash: crypto.createHash('sha1').update(raw).digest() }] });
      });
      expect(await completer.drain(20_000)).toBe(true);
      expect(names).toEqual(['xtconnect_finish_sent', 'xtconnect_finish_sent', 'xtconnect_finish_sent']);
      expect((await recorded()).map((r) => r.subj)).toEqual(['Big 0', 'Big 1', 'Big 2']);
      expect(await Promise.all(jobs.map((j) => state(j.id)))).toEqual(['done', 'done', 'done']);
    } finally {
      await endPool(pool);
    }
  });
});
