/**
 * On a database with xTuple's contact tables the record of a job's mail needs xtbatch.emlsync_import (contact and
 * document links): the Completer writes it right before the job's outcome, and while the database is away it is
 * retried with the outcome instead of being lost (issue 17's change; before it, the handler wrote the record and
 * a record that met an outage was only logged). Real PostgreSQL, a real SMTP server, a TCP proxy the test cuts.
 */
import { Completer } from '../../src/daemon/completer';
import { createPool, endPool } from '../../src/db/pool';
import { claimDue, nextLeaseToken } from '../../src/db/queries/batch';
import type { SentMail } from '../../src/db/queries/sentMail';
import { reconnectDelayMs } from '../../src/daemon/backoff';
import { sentMailWriters } from '../../src/sync/recordSent';
import { captureLogger, configMaker, insertJob, smtpSection } from '../handlers/helpers';
import { daemonWithOwnMailer, jobState, watchNamedQueries } from '../support/daemon';
import { sentMailRecord } from '../support/sentMail';
import { databaseSuite } from '../support/suite';
import { startSmtp } from '../support/smtp';
import { startTcpProxy } from '../support/tcpProxy';
import { waitFor } from '../support/wait';
import { crmFixture, linksOf, RESET_SQL } from '../sync/helpers';

const suite = databaseSuite(`${RESET_SQL} TRUNCATE xtbatch.daemon CASCADE;`);
const { config, cleanup } = configMaker();
afterAll(cleanup);
beforeAll(async () => {
  await suite.db.pool.query(crmFixture());
});

async function contact(email: string): Promise<number> {
  const { rows } = await suite.db.pool.query(
    `INSERT INTO public.cntct (cntct_number, cntct_first_name, cntct_last_name, cntct_email) VALUES ($1, 'Ann', 'Buyer', $2) RETURNING cntct_id AS id`,
    [`C-${email}`, email]);
  return rows[0].id;
}

async function records(): Promise<Array<{ subj: string; links: string[] }>> {
  const { rows } = await suite.db.pool.query<{ eml_id: number; subj: string }>(`SELECT eml_id, eml_subj AS subj FROM xtbatch.eml ORDER BY eml_subj`);
  return Promise.all(rows.map(async (r) => ({ subj: r.subj, links: await linksOf(suite.db, r.eml_id) })));
}

const state = (id: number): Promise<string> => jobState(suite.db.pool, id);

describe('records with contact links, written before their jobs\' outcomes', () => {
  it('a daemon with its own mailer: each job done, its mail recorded once and linked to the recipient\'s contact', async () => {
    const smtp = await startSmtp();
    suite.servers.push(smtp);
    const cfg = config(suite.db.url, { smtp: smtpSection(smtp.port) });
    const log = captureLogger();
    const ids: number[] = [];
    const contacts: number[] = [];
    for (let i = 0; i < 6; i++) {
      contacts.push(await contact(`ann${i}@customer.example`));
      ids.push(await insertJob(suite.db.pool, { batch_email: `ann${i}@customer.example`, batch_subject: `Linked ${i}` }));
    }
    const daemon = daemonWithOwnMailer(cfg, log.log);
    await daemon.start();
    try {
      await waitFor('6 jobs done', async () => (await suite.db.pool.query(
        `SELECT count(*)::int AS n FROM xtbatch.job WHERE batch_id = ANY ($1) AND state = 'done'`, [ids])).rows[0].n === 6, 20_000);
    } finally {
      await daemon.stop();
    }
    expect(await records()).toEqual(contacts.map((c, i) => ({ subj: `Linked ${i}`, links: [`T:${c}`] })));
    expect(log.lines.filter((l) => /xtbatch\.eml/.test(l))).toEqual([]);
  });

  it('the database away when the outcome is due: the record is written once it is back, with its link, and the job done', async () => {
    const c = await contact('cut@customer.example');
    const id = await insertJob(suite.db.pool, { batch_email: 'cut@customer.example', batch_subject: 'claimed' });
    const [row] = await claimDue(suite.db.pool, 'A', 1, 60, [], [], nextLeaseToken());
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(suite.db.url).port || 5432) });
    const log = captureLogger();
    const pool = createPool({ url: proxy.url(suite.db.url), max: 2, statementTimeoutMs: 0, applicationName: 'xtconnect test completer' }, log.log);
    try {
      await pool.query('SELECT 1'); // the catalog of xTuple's tables is read once the database answers
      const mail = sentMailRecord('Through the cut', 'cut@customer.example', { linked: true });
      const completer = new Completer(pool, 'A', log.log, undefined, sentMailWriters(pool, log.log, reconnectDelayMs));
      await proxy.cut();
      completer.push({ batchId: id, attempt: row!.batch_attempts, token: row!.lease_token, kind: 'done', message: null, delaySeconds: 0, result: null, sentMail: [mail] });
      await waitFor('the completer to meet the outage', () => log.lines.some((l) => /could not record 1 job outcome\(s\), database unreachable/.test(l)));
      expect(await records()).toEqual([]);
      expect(await state(id)).toBe('running');
      proxy.restore();
      expect(await completer.drain(20_000)).toBe(true);
      expect(await state(id)).toBe('done');
      expect(await records()).toEqual([{ subj: 'Through the cut', links: [`T:${c}`] }]);
      expect(log.lines.filter((l) => /could not be recorded/.test(l))).toEqual([]);
    } finally {
      proxy.restore();
      await endPool(pool);
      await proxy.close();
    }
  });

  describe('several records at once (sql/0034, xtbatch.emlsync_import_sent)', () => {
    async function writers(): Promise<{ names: string[]; linked: (mails: SentMail[]) => Promise<string[]>; end: () => Promise<void> }> {
      const log = captureLogger();
      const pool = createPool({ url: suite.db.url, max: 3, statementTimeoutMs: 0, applicationName: 'xtconnect test records' }, log.log);
      const names: string[] = [];
      watchNamedQueries(pool, (name) => names.push(name));
      const w = sentMailWriters(pool, log.log, reconnectDelayMs);
      return { names, linked: async (mails) => (await w.linked(mails)).map((r) => r.status), end: () => endPool(pool) };
    }

    it('those linked to contacts share one statement, a message naming a document goes alone; every link as one by one', async () => {
      const [one, two] = [await contact('one@customer.example'), await contact('two@customer.example')];
      const { rows } = await suite.db.pool.query(`INSERT INTO public.cohead (cohead_number) VALUES ('70034') RETURNING cohead_id AS id`);
      const w = await writers();
      try {
        expect(await w.linked([sentMailRecord('One', 'one@customer.example', { linked: true }), sentMailRecord('Order [xtref:S-70034]', 'two@customer.example', { linked: true }),
          sentMailRecord('Two', 'two@customer.example', { linked: true }), sentMailRecord('Nobody', 'nobody@customer.example', { linked: true }), sentMailRecord('One', 'one@customer.example', { linked: true })]))
          .toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
        expect(w.names.filter((n) => n.startsWith('xtconnect-emlsync')).sort()).toEqual(['xtconnect-emlsync-import', 'xtconnect-emlsync-import-sent']);
      } finally {
        await w.end();
      }
      // The same bytes twice ("One"): one row.
      expect(await records()).toEqual([
        { subj: 'Nobody', links: [] }, { subj: 'One', links: [`T:${one}`] },
        { subj: 'Order [xtref:S-70034]', links: [`S:${rows[0].id}`, `T:${two}`] }, { subj: 'Two', links: [`T:${two}`] },
      ]);
    });

    it('a group the database refuses is written again one record at a time: only the bad record is rejected', async () => {
      const one = await contact('one@customer.example');
      const w = await writers();
      try {
        expect(await w.linked([sentMailRecord('Fine 1', 'one@customer.example', { linked: true }), sentMailRecord('Bad\u0000', 'one@customer.example', { linked: true }), sentMailRecord('Fine 2', 'x@customer.example', { linked: true })]))
          .toEqual(['fulfilled', 'rejected', 'fulfilled']);
      } finally {
        await w.end();
      }
      expect(await records()).toEqual([{ subj: 'Fine 1', links: [`T:${one}`] }, { subj: 'Fine 2', links: [] }]);
    });
  });
});
