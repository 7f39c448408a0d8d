/**
 * The records of sent mail written apart from a job's outcome (a lease lost after the mail left, a done-notice) are
 * kept while the database is away and written once it answers (src/sync/recordsApart.ts). Real PostgreSQL behind a
 * TCP proxy the test cuts; the daemon's own writers and recorder hook.
 */
import { createPool, endPool, type Pool } from '../../src/db/pool';
import type { SentMail } from '../../src/db/queries/sentMail';
import type { ComposedFrom } from '../../src/mail/transport';
import { crmCatalog } from '../../src/sync/crmCatalog';
import { reconnectDelayMs } from '../../src/daemon/backoff';
import { sentMailWriters, sentRecorder } from '../../src/sync/recordSent';
import { RecordsApart } from '../../src/sync/recordsApart';
import { captureLogger } from '../handlers/helpers';
import { sentMailRecord } from '../support/sentMail';
import { databaseSuite } from '../support/suite';
import { startTcpProxy, type TcpProxy } from '../support/tcpProxy';
import { waitFor } from '../support/wait';
import { RESET_SQL } from '../sync/helpers';

const suite = databaseSuite(RESET_SQL);

interface Cut {
  proxy: TcpProxy;
  pool: Pool;
  log: ReturnType<typeof captureLogger>;
}

/**
 * Runs `test` with a pool that reaches the test database through a proxy it can cut (the catalog read while it
 * answers); the proxy and the pool are closed after it, pass or fail.
 */
async function throughProxy(test: (c: Cut) => Promise<void>): Promise<void> {
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(suite.db.url).port || 5432) });
  const log = captureLogger();
  const pool = createPool({ url: proxy.url(suite.db.url), max: 2, statementTimeoutMs: 0, applicationName: 'xtconnect test records apart' }, log.log);
  try {
    await crmCatalog(pool);
    await test({ proxy, pool, log });
  } finally {
    proxy.restore();
    await endPool(pool);
    await proxy.close();
  }
}

async function recorded(): Promise<Array<{ subj: string; n: number }>> {
  const { rows } = await suite.db.pool.query(`SELECT eml_subj AS subj, count(*)::int AS n FROM xtbatch.eml GROUP BY eml_subj ORDER BY eml_subj`);
  return rows;
}

const lines = (c: Cut, re: RegExp): string[] => c.log.lines.filter((l) => re.test(l));

describe('sent-mail records written apart', () => {
  it('the database cut: they wait (one line), and are written once each when it is back, the notice\'s record too', async () => {
    await throughProxy(async (c) => {
    const w = sentMailWriters(c.pool, c.log.log, reconnectDelayMs);
    const onSent = sentRecorder(c.pool, c.log.log, w.apart);
    await c.proxy.cut();
    w.apart([sentMailRecord('Lease lost 1', 'a@customer.example'), sentMailRecord('Lease lost 2', 'b@customer.example')]);
    const notice = sentMailRecord('Done notice', 'clerk@ourco.example');
    await onSent(notice.raw, { from: 'erp@ourco.example', to: ['clerk@ourco.example'] }, { messageId: '<n@ourco.example>', accepted: [], rejected: [], deliveredTo: 'test' },
      undefined as unknown as ComposedFrom);
    await waitFor('the writers to meet the outage', () => lines(c, /record\(s\) wait for the database/).length > 0);
    // Tried again while cut: still one line, nothing written, nothing given up.
    await waitFor('a second try', () => c.proxy.refused >= 2, 10_000);
    expect(lines(c, /wait for the database/)).toHaveLength(1);
    expect(await recorded()).toEqual([]);
    c.proxy.restore();
    await waitFor('the records written', async () => (await recorded()).length === 3, 20_000);
    expect(await recorded()).toEqual([{ subj: 'Done notice', n: 1 }, { subj: 'Lease lost 1', n: 1 }, { subj: 'Lease lost 2', n: 1 }]);
    expect(await w.drainApart(1_000)).toBe(true);
    expect(lines(c, /took the sent-mail records that were waiting/)).toHaveLength(1);
    expect(lines(c, /could not be recorded|recording it in xtbatch\.eml failed/)).toEqual([]);
    });
  });

  it('a record the database refuses for itself is logged and dropped at once; the others are written', async () => {
    await throughProxy(async (c) => {
    const w = sentMailWriters(c.pool, c.log.log, reconnectDelayMs);
    // A NUL in text: PostgreSQL refuses it (22021), whatever the state of the server.
    const bad = { ...sentMailRecord('Refused', 'x@customer.example'), body: 'nul \u0000 here' };
    w.apart([sentMailRecord('Kept 1', 'a@customer.example'), bad, sentMailRecord('Kept 2', 'b@customer.example')]);
    expect(await w.drainApart(10_000)).toBe(true);
    expect(await recorded()).toEqual([{ subj: 'Kept 1', n: 1 }, { subj: 'Kept 2', n: 1 }]);
    expect(lines(c, /could not be recorded/)).toHaveLength(1);
    expect(lines(c, /could not be recorded/)[0]).toContain('Refused');
    expect(lines(c, /wait for the database/)).toEqual([]);
    });
  });

  it('stopped while the database is away: each record still waiting is logged as not recorded', async () => {
    await throughProxy(async (c) => {
    const w = sentMailWriters(c.pool, c.log.log, reconnectDelayMs);
    await c.proxy.cut();
    w.apart([sentMailRecord('Stranded 1', 'a@customer.example'), sentMailRecord('Stranded 2', 'b@customer.example')]);
    await waitFor('the outage met', () => lines(c, /wait for the database/).length > 0);
    expect(await w.drainApart(300)).toBe(false);
    w.stopApart();
    // Waiting ones are logged at once, one being written when its try fails.
    await waitFor('both logged', () => lines(c, /could not be recorded/).length === 2);
    for (const l of lines(c, /could not be recorded/)) expect(l).toMatch(/the daemon stopped (before|while) the database/);
    w.apart([sentMailRecord('After stop', 'c@customer.example')]);
    expect(lines(c, /could not be recorded.*the daemon was stopping/)).toHaveLength(1);
    c.proxy.restore();
    expect(await recorded()).toEqual([]);
    });
  });

  it('bounded: past the limit of bytes waiting, the oldest are logged and dropped, the newest written', async () => {
    await throughProxy(async (c) => {
    const failed: string[] = [];
    const written: string[] = [];
    const one = sentMailRecord('Size probe', 'a@customer.example').raw.length;
    const apart = new RecordsApart({
      write: async (m: SentMail) => {
        await c.pool.query('SELECT $1::text', [m.subject]);
        written.push(m.subject);
      },
      failed: (m, err) => failed.push(`${m.subject}: ${(err as Error).message}`),
      log: c.log.log,
      maxWaitingBytes: 3 * one + 2,
      delayMs: () => 50,
    });
    await c.proxy.cut();
    // Mail 1 is being written (it may still get in); of those waiting behind it the oldest go.
    for (let i = 1; i <= 5; i++) apart.add([sentMailRecord(`Mail ${i}`, 'a@customer.example')]);
    expect(apart.size).toBe(3);
    const why = `more than ${3 * one + 2} bytes of sent-mail records were waiting for the database`;
    expect(failed).toEqual([`Mail 2: ${why}`, `Mail 3: ${why}`]);
    await waitFor('a try to fail', () => c.proxy.refused >= 1);
    c.proxy.restore();
    expect(await apart.drain(20_000)).toBe(true);
    expect(written.sort()).toEqual(['Mail 1', 'Mail 4', 'Mail 5']);
    expect(failed).toHaveLength(2);
    apart.stop();
    });
  });
});
