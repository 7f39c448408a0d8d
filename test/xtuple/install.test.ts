/**
 * `xtconnect migrate` on xTuple's real 4.4 schema (issue 12, items 1 and 6): it passes, registers xtbatch as an
 * xTuple package (packageIsEnabled('xtbatch') true) with or without an earlier pkghead row or the commercial
 * package's xtbatch tables (their rows kept), keeps settings in public.metric alone, and provides the xtbatch
 * tables the ERP reads once the package is registered (ediprofile, eml, emladdr, emlassc).
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadMigrations, migrate } from '../../src/db/migrate';
import { readSettings } from '../../src/db/queries/settings';
import { jobPageSql } from '../../src/console/jobs';
import type { TestDatabase } from '../support/db';
import { createXtupleDatabase, erpSession } from '../support/xtupleDb';

const fixture = (name: string) => fs.readFileSync(path.join(__dirname, '..', 'fixtures', name), 'utf8');

let dbs: TestDatabase[] = [];
async function xtuple(opts: { data?: boolean; migrated?: boolean } = {}): Promise<TestDatabase> {
  const db = await createXtupleDatabase(opts);
  dbs.push(db);
  return db;
}
afterEach(async () => {
  await Promise.all(dbs.map((d) => d.drop()));
  dbs = [];
});

async function packageState(db: TestDatabase) {
  const { rows } = await db.pool.query(`SELECT packageIsEnabled('xtbatch') AS enabled, buildSearchPath() AS path,
      (SELECT count(*)::int FROM pkghead WHERE pkghead_name = 'xtbatch') AS rows,
      (SELECT count(*)::int FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'xtbatch' AND c.relname LIKE 'pkg%') AS pkg_tables`);
  return rows[0];
}

describe('migrate on xTuple 4.4', () => {
  it('passes on the bare schema and on quickstart data, and registers xtbatch as an enabled package', async () => {
    for (const data of [false, true]) {
      const db = await xtuple({ data });
      const before = await packageState(db);
      expect(before).toMatchObject({ enabled: false, path: 'public,api', rows: 0 });
      const { applied } = await migrate(db.pool);
      expect(applied.length).toBeGreaterThan(10);
      expect(await packageState(db)).toEqual({ enabled: true, path: 'xtbatch,public,api', rows: 1, pkg_tables: 8 });
      const pkg = await db.pool.query(`SELECT pkghead_version, pkghead_developer, pkghead_indev FROM pkghead WHERE pkghead_name = 'xtbatch'`);
      expect(pkg.rows[0]).toEqual({ pkghead_version: '1.0.0', pkghead_developer: 'xtconnect', pkghead_indev: false });
      expect((await migrate(db.pool)).applied).toEqual([]);
    }
  }, 180_000);

  it('runs every migration file again on a migrated database without error, leaving no name of public in xtbatch', async () => {
    const db = await xtuple({ data: true, migrated: true });
    for (const m of loadMigrations()) await db.pool.query(m.sql);
    expect(await packageState(db)).toEqual({ enabled: true, path: 'xtbatch,public,api', rows: 1, pkg_tables: 8 });
    const { rows } = await db.pool.query(`
      SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'xtbatch' AND c.relname IN (SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace)`);
    expect(rows).toEqual([]);
  }, 120_000);

  it('keeps an earlier pkghead row for xtbatch (made before its schema) and completes the package', async () => {
    const db = await xtuple({ data: false });
    await db.pool.query(`INSERT INTO pkghead (pkghead_name, pkghead_descrip, pkghead_version, pkghead_developer)
                         VALUES ('xtbatch', 'xTuple Connect', '4.11.0', 'xTuple')`);
    await migrate(db.pool);
    expect(await packageState(db)).toEqual({ enabled: true, path: 'xtbatch,public,api', rows: 1, pkg_tables: 8 });
    const pkg = await db.pool.query(`SELECT pkghead_version, pkghead_developer FROM pkghead WHERE pkghead_name = 'xtbatch'`);
    expect(pkg.rows[0]).toEqual({ pkghead_version: '4.11.0', pkghead_developer: 'xTuple' });
  }, 120_000);

  // The commercial package's schema, made by createPkgSchema with its pkghead row, or by hand without either.
  for (const made of ['createPkgSchema', 'CREATE SCHEMA'] as const) {
    it(`keeps every row of the commercial package's tables (schema made by ${made}) and ends enabled`, async () => {
      const db = await xtuple({ data: true });
      if (made === 'createPkgSchema') {
        await db.pool.query(`SELECT createPkgSchema('xtbatch', 'xTuple Connect');
          INSERT INTO pkghead (pkghead_name, pkghead_descrip, pkghead_version, pkghead_developer)
          VALUES ('xtbatch', 'xTuple Connect', '4.11.0', 'xTuple')`);
      } else {
        await db.pool.query(`CREATE SCHEMA xtbatch`);
      }
      await db.pool.query(fixture('xtbatch-commercial.sql'));
      const jobs = (await db.pool.query(`SELECT * FROM xtbatch.batch ORDER BY batch_id`)).rows;
      const params = (await db.pool.query(`SELECT * FROM xtbatch.batchparam ORDER BY batchparam_id`)).rows;
      await migrate(db.pool);
      expect(await packageState(db)).toMatchObject({ enabled: true, path: 'xtbatch,public,api', rows: 1, pkg_tables: 8 });
      const after = (await db.pool.query(`SELECT * FROM xtbatch.batch ORDER BY batch_id`)).rows;
      expect(after).toHaveLength(jobs.length);
      after.forEach((row, i) => {
        for (const [k, v] of Object.entries(jobs[i])) expect(row[k]).toEqual(v);
      });
      expect((await db.pool.query(`SELECT * FROM xtbatch.batchparam ORDER BY batchparam_id`)).rows).toEqual(params);
      // A new job continues the commercial package's numbering.
      await db.pool.query(`SELECT setMetric('EnableBatchManager', 't')`);
      const id = await db.pool.query(`SELECT xtbatch.submitEmailToBatch('a@example.com', 'b@example.com', '', 's', 'b', NULL,
                                      CURRENT_TIMESTAMP, FALSE, NULL, NULL) AS id`);
      expect(id.rows[0].id).toBe(jobs.length + 1);
    }, 120_000);
  }

  it('keeps the settings in public.metric alone: xtconnect reads and writes the ERP\'s rows', async () => {
    const db = await xtuple({ data: true, migrated: true });
    expect((await db.pool.query(`SELECT to_regclass('xtbatch.metric') AS a, to_regclass('xtbatch.xtconnect_setting') AS b`)).rows[0])
      .toEqual({ a: null, b: null });
    const s = await erpSession(db.url);
    try {
      await s.query(`SELECT setMetric('EnableBatchManager', 't'), setMetric('DefaultBatchFromEmailAddress', 'erp@example.com'),
                            setMetric('BatchManagerPurgeDays', '12')`);
      expect(await readSettings(db.pool)).toMatchObject({ enabled: true, defaultFrom: 'erp@example.com', purgeDays: 12 });
      await db.pool.query(`SELECT xtbatch.setsetting('DefaultBatchFromEmailAddress', 'batch@example.com')`);
      expect((await s.query(`SELECT fetchMetricText('DefaultBatchFromEmailAddress') AS v`)).rows[0].v).toBe('batch@example.com');
      const n = (await s.query(`SELECT count(*)::int AS n FROM metric`)).rows[0].n;
      expect(n).toBe((await db.pool.query(`SELECT count(*)::int AS n FROM ONLY public.metric`)).rows[0].n);
    } finally {
      await s.end();
    }
  }, 120_000);
});

describe('sql/0033 on xTuple 4.4: the console indexes leave running rows out', () => {
  it('replaces them when run again from an ERP session, and the console lists running and finished jobs together', async () => {
    const db = await xtuple({ data: true, migrated: true });
    const s = await erpSession(db.url);
    try {
      // Run again as an ERP session would see names (xtbatch,public,api; standard_conforming_strings off), after
      // the indexes were put back as 0020 made them: 0033 must find and replace them there too.
      await s.query(`DROP INDEX xtbatch.batch_action_id_idx; CREATE INDEX batch_action_id_idx ON xtbatch.batch (batch_action, batch_id)`);
      const file = loadMigrations().find((m) => m.name.startsWith('0033_'))!;
      await s.query(file.sql);
      await s.query(file.sql);
      const { rows: idx } = await s.query<{ name: string; pred: string | null }>(
        `SELECT c.relname AS name, pg_get_expr(i.indpred, i.indrelid) AS pred
           FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
          WHERE i.indrelid = 'xtbatch.batch'::regclass
            AND c.relname IN ('batch_action_id_idx', 'batch_scheduled_id_idx', 'batch_subject_trgm_idx', 'batch_email_trgm_idx',
                              'batch_cc_trgm_idx', 'batch_user_id_idx')
          ORDER BY 1`);
      expect(idx.map((r) => [r.name, /\(batch_started IS NULL\) OR \(batch_completed IS NOT NULL\)/.test(r.pred ?? '')])).toEqual([
        ['batch_action_id_idx', true], ['batch_cc_trgm_idx', true], ['batch_email_trgm_idx', true],
        ['batch_scheduled_id_idx', true], ['batch_subject_trgm_idx', true], ['batch_user_id_idx', false],
      ]);

      await s.query(`SELECT setMetric('EnableBatchManager', 't')`);
      const { rows: ids } = await s.query<{ id: number }>(
        `SELECT xtbatch.submitEmailToBatch('f@x.y', 'c' || g || '@example.com', NULL, 'Invoice ' || g, 'body', NULL,
                                           NULL::timestamp, false, NULL, NULL) AS id FROM generate_series(1, 6) g`);
      const all = ids.map((r) => r.id).sort((a, b) => b - a);
      await s.query(`UPDATE xtbatch.batch SET batch_started = localtimestamp, batch_completed = localtimestamp, batch_exitstatus = ''
                      WHERE batch_id = ANY ($1::int[])`, [all]);
      await s.query(`UPDATE xtbatch.batch SET batch_completed = NULL, batch_exitstatus = NULL WHERE batch_id = ANY ($1::int[])`,
        [[all[1], all[4]]]);
      for (const filter of [{ action: 'Email' }, { text: 'Invoice' }]) {
        const { sql, params } = jobPageSql(filter, null, null, 50);
        const { rows } = await s.query<{ batch_id: number; state: string }>(sql, params);
        expect(rows.map((r) => r.batch_id)).toEqual(all);
        expect(rows.filter((r) => r.state === 'running').map((r) => r.batch_id)).toEqual([all[1], all[4]]);
      }
    } finally {
      await s.end();
    }
  }, 120_000);
});

describe('the xtbatch tables the ERP reads once the package is registered', () => {
  it('getEdiProfileId / getEdiProfileName return NULL (and raise for an unknown name) as with xTuple\'s package; api.custshipto works', async () => {
    const db = await xtuple({ data: true });
    const plain = await erpSession(db.url);
    try {
      expect((await plain.query(`SELECT getEdiProfileId('ACME') AS id, getEdiProfileName(1) AS name`)).rows[0]).toEqual({ id: null, name: null });
    } finally {
      await plain.end();
    }
    await migrate(db.pool);
    const s = await erpSession(db.url);
    try {
      expect((await s.query(`SELECT getEdiProfileId(NULL) AS id, getEdiProfileName(NULL) AS a, getEdiProfileName(1) AS b,
                                    getEdiProfileName(-1) AS c`)).rows[0]).toEqual({ id: null, a: null, b: null, c: null });
      await expect(s.query(`SELECT getEdiProfileId('ACME')`)).rejects.toThrow('EDI Profile ACME not found.');
      expect((await s.query(`SELECT count(*)::int AS n, count(edi_profile)::int AS e FROM api.custshipto`)).rows[0]).toEqual({ n: 0, e: 0 });
      // The client's CRM configuration and incident category screens, then the lookups with a profile present.
      await s.query(`INSERT INTO xtbatch.ediprofile (ediprofile_name, ediprofile_type, ediprofile_option1, ediprofile_option2,
                       ediprofile_option3, ediprofile_option4, ediprofile_option5, ediprofile_option6, ediprofile_option7, ediprofile_emailhtml)
                     VALUES ('ACME', 'email', 'ap@acme.example', 'Invoice </docnumber>', 'Attached', '', 'erp@example.com', '', '', false)`);
      const combo = await s.query(`SELECT ediprofile_id, ediprofile_name FROM xtbatch.ediprofile WHERE ediprofile_type='email'`);
      expect(combo.rows).toEqual([{ ediprofile_id: expect.any(Number), ediprofile_name: 'ACME' }]);
      const id = combo.rows[0].ediprofile_id as number;
      expect((await s.query(`SELECT getEdiProfileId('ACME') AS id, getEdiProfileName($1) AS name`, [id])).rows[0]).toEqual({ id, name: 'ACME' });
      // Old deliver* screens read it unqualified through the search_path.
      const old = await s.query(`SELECT ediprofile_option1, ediprofile_option4, ediprofile_option2, ediprofile_option3, ediprofile_emailhtml
                                   FROM ediprofile WHERE ediprofile_id=$1 AND ediprofile_type='email'`, [id]);
      expect(old.rows).toHaveLength(1);
    } finally {
      await s.end();
    }
  }, 120_000);

  it('eml, emladdr and emlassc take xTuple\'s writes: Trojita\'s import, cntctmerge() and the ERP\'s conversion statements', async () => {
    const db = await xtuple({ data: true, migrated: true });
    const s = await erpSession(db.url);
    try {
      await s.query('BEGIN');
      const eml = await s.query(`INSERT INTO xtbatch.eml (eml_hash, eml_date, eml_subj, eml_body, eml_msg, eml_status)
                                 VALUES (decode('00112233445566778899aabbccddeeff00112233', 'hex'), '2026-12-04', 'Hello', 'Body',
                                         convert_to('Subject: Hello', 'UTF8'), 'I') RETURNING eml_id`);
      const emlId = eml.rows[0].eml_id as number;
      await s.query(`INSERT INTO xtbatch.emladdr (emladdr_eml_id, emladdr_type, emladdr_addr, emladdr_name) VALUES ($1, 'FROM', 'a@b.example', 'A B')`, [emlId]);
      await s.query(`UPDATE xtbatch.eml SET eml_status='O' WHERE eml_id=$1`, [emlId]);
      await s.query('COMMIT');
      for (const t of ['T', 'CRMA', 'Q', 'S', 'C', 'EMP', 'INCDT', 'OPP', 'P', 'TD', 'TO', 'V', 'RA', 'J']) {
        await s.query(`INSERT INTO xtbatch.emlassc (emlassc_eml_id, emlassc_type, emlassc_assc_id) VALUES ($1, $2, 7)`, [emlId, t]);
      }
      await expect(s.query(`INSERT INTO xtbatch.emlassc (emlassc_eml_id, emlassc_type, emlassc_assc_id) VALUES ($1, 'X', 7)`, [emlId]))
        .rejects.toThrow(/check constraint/);
      await expect(s.query(`INSERT INTO xtbatch.emladdr (emladdr_eml_id, emladdr_type, emladdr_addr, emladdr_name) VALUES ($1, 'REPLY', 'x', 'y')`, [emlId]))
        .rejects.toThrow(/check constraint/);
      // Duplicate check as Trojita makes it.
      expect((await s.query(`SELECT eml_id FROM xtbatch.eml WHERE decode('00112233445566778899aabbccddeeff00112233', 'hex') = eml_hash::bytea`)).rows)
        .toEqual([{ eml_id: emlId }]);
      // convertQuote() and cntctmerge()'s statements.
      await s.query(`UPDATE xtbatch.emlassc SET emlassc_type='S', emlassc_assc_id=99 WHERE emlassc_type='Q' AND emlassc_assc_id=7`);
      await s.query(`UPDATE xtbatch.emlassc SET emlassc_assc_id=8 WHERE emlassc_type='T' AND emlassc_assc_id=7`);
      const links = await s.query(`SELECT emlassc_type, emlassc_assc_id FROM xtbatch.emlassc WHERE emlassc_type IN ('S', 'T') ORDER BY 1, 2`);
      expect(links.rows).toEqual([{ emlassc_type: 'S', emlassc_assc_id: 7 }, { emlassc_type: 'S', emlassc_assc_id: 99 }, { emlassc_type: 'T', emlassc_assc_id: 8 }]);
      // xTuple's own contact merge moves the mail links of the merged contact (it checks the metric and the package).
      await s.query(`SELECT setMetric('EnableBatchManager', 't')`);
      const c = await s.query(`INSERT INTO cntct (cntct_number, cntct_first_name, cntct_last_name)
                               VALUES (fetchNextNumber('ContactNumber'), 'Ann', 'Old'), (fetchNextNumber('ContactNumber'), 'Ann', 'New')
                               RETURNING cntct_id`);
      const [src, tgt] = c.rows.map((r) => r.cntct_id as number);
      await s.query(`INSERT INTO xtbatch.emlassc (emlassc_eml_id, emlassc_type, emlassc_assc_id) VALUES ($1, 'T', $2)`, [emlId, src]);
      // What the client's merge screen selects first.
      await s.query(`INSERT INTO cntctsel (cntctsel_cntct_id, cntctsel_target) VALUES ($1, false), ($2, true)`, [src, tgt]);
      expect((await s.query(`SELECT cntctmerge($1, $2, false) AS ok`, [src, tgt])).rows[0].ok).toBe(true);
      expect((await s.query(`SELECT count(*)::int AS n FROM xtbatch.emlassc WHERE emlassc_type = 'T' AND emlassc_assc_id = $1`, [tgt])).rows[0].n).toBe(1);
      expect((await s.query(`SELECT count(*)::int AS n FROM mrghist WHERE mrghist_table = 'xtbatch.emlassc'`)).rows[0].n).toBe(1);
    } finally {
      await s.end();
    }
  }, 120_000);
});
