import fs from 'node:fs';
import path from 'node:path';
import { JobInputError, PermanentError } from '../../src/errors';
import { runReportHandler } from '../../src/handlers/report';
import { loadDefinition, loadMetaSql } from '../../src/reports/definitions';
import { parseDefinition } from '../../src/reports/openrpt';
import { DatabaseReportData } from '../../src/reports/query';
import { renderToFile } from '../../src/reports/renderFile';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { pdfText } from '../support/pdfText';
import { tempDir } from '../support/tempDirs';
import { testConfig } from '../support/config';
import { waitFor } from '../support/wait';
import { FIXTURE_CASES, fixtureXml, loadReportFixtures, params, reportNameOf } from './dbFixtures';
import { jobContext, reportJob } from './jobHelpers';

let db: TestDatabase;
let names: Map<string, string>;

beforeAll(async () => {
  db = await createTestDatabase();
  // xTuple's own definition tables, so the tests can show how they and xtbatch's are combined.
  await db.pool.query(`CREATE TABLE public.report (report_id serial PRIMARY KEY, report_name text, report_grade integer,
                         report_source text, report_descrip text, report_sys boolean, report_loaddate timestamp)`);
  await db.pool.query(`CREATE TABLE public.metasql (metasql_id serial PRIMARY KEY, metasql_group text, metasql_name text,
                         metasql_query text, metasql_grade integer, metasql_notes text)`);
  names = await loadReportFixtures(db.pool);
});
afterAll(async () => {
  await db.drop();
});

/** Each expected text appears after the one before it, reading the pages in order. */
function expectInOrder(pages: string[][], expected: string[]): void {
  const text = pages.map((p) => p.join('\n')).join('\n\f\n');
  let at = 0;
  for (const want of expected) {
    const i = text.indexOf(want, at);
    if (i < 0) {
      throw new Error(`"${want}" does not appear after position ${at} (after the values before it); the text from there is:\n` +
        text.slice(Math.max(0, at - 600), at) + "\n<<<HERE>>>\n" + text.slice(at, at + 300));
    }
    at = i + want.length;
  }
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A one-section report over one query: enough to test the database side without the fixtures. */
function listReport(name: string, sql: string, column = 'v'): string {
  return `<!DOCTYPE openRPTDef><report><title>${name}</title><name>${name}</name><size>Letter</size><portrait/>
  <querysource><name>detail</name><sql>${xmlEscape(sql)}</sql></querysource>
  <section><name>detail</name><detail><key><query>detail</query></key><height>20</height>
    <field><rect><x>0</x><y>0</y><width>300</width><height>15</height></rect><font><face>Arial</face><size>10</size></font><left/><top/>
      <data><query>detail</query><column>${column}</column></data></field>
  </detail></section></report>`;
}

async function storeReport(xml: string, grade = 0, table = 'xtbatch.xtconnect_report'): Promise<void> {
  await db.pool.query(`INSERT INTO ${table} (report_name, report_grade, report_source) VALUES ($1, $2, $3)`, [reportNameOf(xml), grade, xml]);
}

describe('every fixture definition renders from the database', () => {
  it.each(FIXTURE_CASES.map((c) => [c.file, c] as const))('%s', async (_file, c) => {
    const name = names.get(c.file)!;
    const stored = await loadDefinition(db.pool, name);
    expect(stored).toMatchObject({ name, origin: 'xtbatch.xtconnect_report', grade: 0 });
    const file = path.join(tempDir('xtc-rep-'), `${name}.pdf`);
    const out = await renderToFile({
      pool: db.pool, def: parseDefinition(stored!.source, name), params: c.params, format: 'pdf', queryTimeoutSeconds: 30,
    }, file);
    expect(out.bytes).toBe(fs.statSync(file).size);
    expect(fs.readFileSync(file).subarray(0, 5).toString()).toBe('%PDF-');
    const { pages } = await pdfText(file);
    expect(pages.length).toBe(out.pages);
    expect(out.pages).toBeGreaterThanOrEqual(c.minPages);
    expectInOrder(pages, c.expectInOrder);
    for (const v of c.expectAnyOrder ?? []) expect(pages.flat().join('\n')).toContain(v);
    if (c.minPages > 1) {
      // The last row is not on the first page: the report really ran over.
      const last = c.expectInOrder[c.expectInOrder.length - 1]!;
      expect(pages[0]!.join('\n')).not.toContain(last);
      expect(pages.slice(1).flat().join('\n')).toContain(last);
    }
  });
});

describe('definitions and MetaSQL from both tables', () => {
  it('takes the highest grade, and xtbatch.xtconnect_report over public.report at equal grade', async () => {
    await storeReport(listReport('Graded', `SELECT 'public grade 5' AS v`), 5, 'public.report');
    await storeReport(listReport('Graded', `SELECT 'xtbatch grade 2' AS v`), 2);
    expect(await loadDefinition(db.pool, 'Graded')).toMatchObject({ grade: 5, origin: 'public.report' });
    await storeReport(listReport('Graded', `SELECT 'xtbatch grade 5' AS v`), 5);
    const won = await loadDefinition(db.pool, 'Graded');
    expect(won).toMatchObject({ grade: 5, origin: 'xtbatch.xtconnect_report' });
    expect(won!.source).toContain('xtbatch grade 5');
    expect(await loadDefinition(db.pool, 'NoSuchReport')).toBeNull();
  });

  it('loads a loadFromDb query from metasql by group and name, highest grade first', async () => {
    await db.pool.query(`INSERT INTO xtbatch.xtconnect_metasql (metasql_group, metasql_name, metasql_query, metasql_grade) VALUES
      ('uoms', 'detail', 'SELECT uom_name AS v FROM uom WHERE uom_name = <? value("uom") ?>', 0)`);
    await db.pool.query(`INSERT INTO public.metasql (metasql_group, metasql_name, metasql_query, metasql_grade) VALUES
      ('uoms', 'detail', 'SELECT uom_descrip AS v FROM uom WHERE uom_name = <? value("uom") ?>', 1)`);
    expect(await loadMetaSql(db.pool, 'uoms', 'detail')).toMatchObject({ grade: 1, origin: 'public.metasql' });
    const xml = `<report><name>FromMetaSql</name><querysource loadFromDb="true"><name>detail</name><mqlgroup>uoms</mqlgroup><mqlname>detail</mqlname></querysource>
      <section><name>s</name><detail><key><query>detail</query></key><height>20</height>
      <field><rect><x>0</x><y>0</y><width>300</width><height>15</height></rect><data><query>detail</query><column>v</column></data></field></detail></section></report>`;
    const def = parseDefinition(xml, 'FromMetaSql');
    expect(def.queries[0]).toMatchObject({ loadFromDb: true, mqlGroup: 'uoms', mqlName: 'detail' });
    const data = await DatabaseReportData.open({ pool: db.pool, def, params: params({ uom: 'KG' }), queryTimeoutSeconds: 30 });
    try {
      const rows = (await data.open('detail'))!;
      expect(await rows.next()).toEqual({ v: 'Kilogram' });
      expect(await rows.next()).toBeNull();
    } finally {
      await data.close();
    }
  });

  it('fails naming the query when its MetaSQL statement is missing', async () => {
    const xml = `<report><name>MissingMql</name><querysource loadFromDb="true"><name>detail</name><mqlgroup>nope</mqlgroup><mqlname>gone</mqlname></querysource></report>`;
    const data = await DatabaseReportData.open({ pool: db.pool, def: parseDefinition(xml, 'MissingMql'), params: params({}), queryTimeoutSeconds: 30 });
    try {
      await expect(data.open('detail')).rejects.toThrow('report "MissingMql", query "detail": no MetaSQL statement nope/gone in metasql or xtbatch.xtconnect_metasql');
    } finally {
      await data.close();
    }
  });
});

describe('queries run streamed, rolled back and bounded', () => {
  const def = (sqlByName: Record<string, string>) => parseDefinition(`<report><name>Q</name>${Object.entries(sqlByName)
    .map(([n, s]) => `<querysource><name>${n}</name><sql>${xmlEscape(s)}</sql></querysource>`).join('')}</report>`, 'Q');

  it('keeps several queries open at once on one connection, and runs a query again when it is reopened', async () => {
    const data = await DatabaseReportData.open({
      pool: db.pool, params: params({}), queryTimeoutSeconds: 30,
      def: def({ a: 'SELECT g AS n FROM generate_series(1, 1200) g ORDER BY g', b: `SELECT classcode_code AS code FROM classcode ORDER BY 1` }),
    });
    try {
      const a = (await data.open('a'))!;
      const b = (await data.open('b'))!;
      expect(await a.next()).toEqual({ n: 1 });
      expect(await b.next()).toEqual({ code: 'CC-001' });
      expect(await a.next()).toEqual({ n: 2 });
      const pids = await db.pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`);
      expect(pids.rows[0].n).toBe(1); // one transaction holds both cursors
      let count = 2;
      while (await a.next()) count++;
      expect(count).toBe(1200);
      await a.close();
      const again = (await data.open('a'))!;
      expect(await again.next()).toEqual({ n: 1 });
      expect(await b.next()).toEqual({ code: 'CC-002' });
      expect(await data.open('nosuch')).toBeNull();
    } finally {
      await data.close();
    }
  });

  it('gives numbers as numbers and dates as ISO text, and the first of two columns of one name', async () => {
    const data = await DatabaseReportData.open({
      pool: db.pool, params: params({}), queryTimeoutSeconds: 30,
      def: def({ a: `SELECT 12.50::numeric AS amount, 7::bigint AS n, DATE '2026-07-01' AS d, 'first' AS dup, 'second' AS dup` }),
    });
    try {
      expect(await (await data.open('a'))!.next()).toEqual({ amount: 12.5, n: 7, d: '2026-07-01', dup: 'first' });
    } finally {
      await data.close();
    }
  });

  it('may write, as xTuple\'s reports do, and nothing it writes survives the report', async () => {
    await db.pool.query(`CREATE TABLE public.canary (v text); INSERT INTO public.canary VALUES ('untouched');
      CREATE SEQUENCE public.canary_seq;
      CREATE FUNCTION public.sneaky() RETURNS text LANGUAGE plpgsql AS $$ BEGIN UPDATE public.canary SET v = 'written'; RETURN (SELECT v FROM public.canary); END $$`);
    await storeReport(listReport('Writer', `UPDATE public.canary SET v = 'written by ' || nextval('public.canary_seq') RETURNING v`));
    await storeReport(listReport('SneakyWriter', `SELECT public.sneaky() AS v`));
    const cfg = testConfig(db.url);
    for (const [name, shows] of [['Writer', 'written by 1'], ['SneakyWriter', 'written']] as const) {
      const result = await runReportHandler(jobContext(db, cfg, reportJob(name))) as { path?: string; file: string };
      const job = fs.readdirSync(cfg.spoolDir).map((d) => path.join(cfg.spoolDir, d, result.file)).find((f) => fs.existsSync(f))!;
      expect((await pdfText(job)).pages.flat()).toContain(shows);
      expect((await db.pool.query(`SELECT v FROM public.canary`)).rows).toEqual([{ v: 'untouched' }]);
    }
    // A sequence is not transactional: the report took a value, and that is all that is left of it.
    expect((await db.pool.query(`SELECT last_value::int AS n FROM public.canary_seq`)).rows).toEqual([{ n: 1 }]);
  });

  it('runs a query text of several statements and reads the last one\'s rows', async () => {
    const data = await DatabaseReportData.open({
      pool: db.pool, params: params({ n: '3' }), queryTimeoutSeconds: 30,
      def: def({ a: `CREATE TEMP TABLE work_rows AS SELECT g FROM generate_series(1, <? value("n") ?>::int) g;\n` +
        `INSERT INTO work_rows VALUES (10); -- a comment; with a semicolon\nSELECT sum(g)::int AS total, ';' AS semi FROM work_rows;` }),
    });
    try {
      expect(await (await data.open('a'))!.next()).toEqual({ total: 16, semi: ';' });
    } finally {
      await data.close();
    }
    expect((await db.pool.query(`SELECT to_regclass('pg_temp.work_rows') AS t`)).rows).toEqual([{ t: null }]);
  });

  it('fails the job naming the report, the query and the database message for a bad query', async () => {
    await storeReport(listReport('BadColumn', `SELECT no_such_column AS v FROM uom`));
    const err = await runReportHandler(jobContext(db, testConfig(db.url), reportJob('BadColumn'))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toBe('report "BadColumn", query "detail": column "no_such_column" does not exist');
  });

  it('stops a query at reports.queryTimeoutSeconds', async () => {
    await storeReport(listReport('Sleepy', `SELECT pg_sleep(20)::text AS v`));
    const cfg = testConfig(db.url, { reports: { queryTimeoutSeconds: 1 } });
    const started = Date.now();
    const err = await runReportHandler(jobContext(db, cfg, reportJob('Sleepy'))).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toBe('report "Sleepy", query "detail": canceling statement due to statement timeout ' +
      '(reports.queryTimeoutSeconds is 1 s; raise it in the config file if the query needs longer)');
  });

  it('cancels the running statement and gives the connection back when the job is stopped', async () => {
    const controller = new AbortController();
    const data = await DatabaseReportData.open({
      pool: db.pool, params: params({}), queryTimeoutSeconds: 60, signal: controller.signal,
      def: def({ slow: `SELECT pg_sleep(30) AS v` }),
    });
    const rows = (await data.open('slow'))!;
    const pending = rows.next();
    await waitFor('the report query to run', async () => (await db.pool.query(
      `SELECT 1 FROM pg_stat_activity WHERE query LIKE 'FETCH%' AND state = 'active' AND datname = current_database()`)).rowCount);
    const started = Date.now();
    controller.abort(new Error('job cancelled'));
    await expect(pending).rejects.toThrow('job cancelled');
    await data.close();
    expect(Date.now() - started).toBeLessThan(5000);
    await waitFor('no report statement left', async () => (await db.pool.query(
      `SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND state = 'active' AND pid <> pg_backend_pid()`)).rowCount === 0);
  });
});

describe('a RunReport job', () => {
  it('fails naming batch_parameter for a report that does not exist, and suggests a near name', async () => {
    const cfg = testConfig(db.url);
    const err = await runReportHandler(jobContext(db, cfg, reportJob('NoSuchReport'))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobInputError);
    expect((err as JobInputError).field).toBe('batch_parameter');
    expect((err as Error).message).toMatch(/^job \d+: batch_parameter names no report that can be run: no report named "NoSuchReport" in report or xtbatch.xtconnect_report$/);
    const near = await runReportHandler(jobContext(db, cfg, reportJob('uoms'))).catch((e: unknown) => e);
    expect((near as Error).message).toMatch(/no report named "uoms" in report or xtbatch.xtconnect_report \(did you mean "UOMs"\?\)$/);
    const empty = await runReportHandler(jobContext(db, cfg, reportJob(' '))).catch((e: unknown) => e);
    expect((empty as JobInputError).field).toBe('batch_parameter');
  });

  it('names its file from batch_filename tokens and leaves it in the spool folder', async () => {
    const cfg = testConfig(db.url);
    const job = reportJob('CreditMemo', { batch_filename: 'CM-</docnumber>-</docid>.pdf' }, [['cmhead_id', '1', 'int'], ['docnumber', '70001']]);
    const result = await runReportHandler(jobContext(db, cfg, job)) as { file: string; pages: number; bytes: number; delivered: Array<{ to: string; path?: string }> };
    expect(result.file).toBe('CM-70001-1.pdf');
    const spooled = path.join(cfg.spoolDir, String(job.batch_id), 'CM-70001-1.pdf');
    expect(fs.statSync(spooled).size).toBe(result.bytes);
    expect(fs.readdirSync(path.dirname(spooled))).toEqual(['CM-70001-1.pdf']); // no temporary file left behind
    expectInOrder((await pdfText(spooled)).pages, ['70001', 'BTRUCK1', '76.00']);
  });

  it('refuses a file name that is not a plain name, before running anything', async () => {
    const cfg = testConfig(db.url);
    const job = reportJob('UOMs', { batch_filename: '../../etc/</doctype>.pdf' });
    const err = await runReportHandler(jobContext(db, cfg, job)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobInputError);
    expect((err as JobInputError).field).toBe('batch_filename');
    expect((err as Error).message).toContain('"../../etc/UOMs.pdf", which contains a folder separator');
    expect(fs.existsSync(path.join(cfg.spoolDir, String(job.batch_id)))).toBe(false);
  });

  it('formats builtin fields from xTuple\'s locale row of the user when the database has one', async () => {
    await db.pool.query(`CREATE TABLE public.locale (locale_id serial PRIMARY KEY, locale_code text, locale_qtyformat text,
        locale_curr_scale int, locale_qty_scale int, locale_cost_scale int, locale_salesprice_scale int, locale_purchprice_scale int,
        locale_extprice_scale int, locale_qtyper_scale int, locale_uomratio_scale int, locale_percent_scale int, locale_weight_scale int);
      CREATE TABLE public.usrpref (usrpref_id serial PRIMARY KEY, usrpref_name text, usrpref_value text, usrpref_username text);
      INSERT INTO public.locale (locale_code, locale_qtyformat, locale_curr_scale, locale_qty_scale, locale_percent_scale)
        VALUES ('Default', '.-,', 2, 0, 1), ('German', ',-.', 3, 1, 2)`);
    const def = parseDefinition('<report><name>L</name></report>', 'L');
    try {
      const open = async () => {
        const d = await DatabaseReportData.open({ pool: db.pool, def, params: params({}), queryTimeoutSeconds: 30 });
        await d.close();
        return d;
      };
      let d = await open();
      expect(d.usesDatabaseLocale).toBe(true);
      expect(d.formatBuiltin('money', 1234567.125)).toBe('1,234,567.13');
      expect(d.formatBuiltin('qty', -2.5)).toBe('-3');
      expect(d.formatBuiltin('percent', 0.1234)).toBe('12.3');
      await db.pool.query(`INSERT INTO public.usrpref (usrpref_name, usrpref_value, usrpref_username) VALUES ('locale_id', '2', CURRENT_USER)`);
      d = await open();
      expect(d.formatBuiltin('money', 1234567.125)).toBe('1.234.567,125');
      expect(d.formatBuiltin('qty', -0.04)).toBe('0,0');
      expect(d.formatBuiltin('percent', 0.1234)).toBe('12,34');
    } finally {
      await db.pool.query('DROP TABLE public.locale, public.usrpref');
    }
    const plain = await DatabaseReportData.open({ pool: db.pool, def, params: params({}), queryTimeoutSeconds: 30 });
    await plain.close();
    expect(plain.usesDatabaseLocale).toBe(false);
    expect(plain.formatBuiltin('money', 1234.5)).toBe('1,234.50');
  });
});

// The fixture XML files are the ones stored above; this guards against testing a stale copy.
it('stores each fixture exactly as the shared file holds it', async () => {
  for (const c of FIXTURE_CASES) {
    const stored = await loadDefinition(db.pool, names.get(c.file)!);
    expect(stored!.source).toBe(fixtureXml(c.file));
  }
});
