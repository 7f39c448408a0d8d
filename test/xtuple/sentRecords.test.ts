/**
 * The records of mail the daemon sends, on xTuple's real 4.4 schema with its quickstart data (sql/0034,
 * src/sync/recordSent.ts): messages linked to contacts share one call of xtbatch.emlsync_import_sent, a message
 * naming a document (a project) goes alone through xtbatch.emlsync_import, and both link what xTuple's own import would;
 * the migration also runs, twice, from an ERP session.
 */
import { loadMigrations } from '../../src/db/migrate';
import { silentLogger } from '../../src/log';
import { reconnectDelayMs } from '../../src/daemon/backoff';
import { sentMailWriters } from '../../src/sync/recordSent';
import { watchNamedQueries } from '../support/daemon';
import type { TestDatabase } from '../support/db';
import { sentMailRecord } from '../support/sentMail';
import { createXtupleDatabase, erpSession } from '../support/xtupleDb';

let db: TestDatabase;
beforeAll(async () => {
  db = await createXtupleDatabase({ data: true, migrated: true });
}, 180_000);
afterAll(async () => {
  await db?.drop();
});

it('records sent mail linked to contacts and projects, several messages in one statement', async () => {
  // The quickstart data has no contact with an address and no project: made here, the address as the contact
  // screen stores it (a cntcteml row).
  const { rows: [c] } = await db.pool.query<{ id: number; email: string }>(
    `INSERT INTO public.cntct (cntct_number, cntct_first_name, cntct_last_name, cntct_email, cntct_active)
     VALUES ('X70034', 'Ann', 'Buyer', 'ann.buyer@customer.example', true) RETURNING cntct_id AS id, cntct_email AS email`);
  await db.pool.query(`INSERT INTO public.cntcteml (cntcteml_cntct_id, cntcteml_primary, cntcteml_email) VALUES ($1, true, $2)`, [c!.id, c!.email]);
  const { rows: [so] } = await db.pool.query<{ id: number; number: string }>(
    `INSERT INTO public.prj (prj_number, prj_name, prj_status) VALUES ('P70034', 'Rollout', 'O') RETURNING prj_id AS id, prj_number AS number`);
  const names: string[] = [];
  watchNamedQueries(db.pool, (name) => names.push(name));

  const results = await sentMailWriters(db.pool, silentLogger(), reconnectDelayMs).linked([
    ...[['Invoice 1', c!.email], [`Project [xtref:J-${so!.number}]`, c!.email], ['Invoice 2', 'nobody@customer.example'], ['Invoice 3', c!.email.toUpperCase()]]
      .map(([subject, to]) => sentMailRecord(subject!, to!, { linked: true })),
  ]);
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
  expect(names.filter((n) => n.startsWith('xtconnect-emlsync')).sort()).toEqual(['xtconnect-emlsync-import', 'xtconnect-emlsync-import-sent']);

  const { rows } = await db.pool.query<{ subj: string; status: string; addrs: string; links: string | null }>(
    `SELECT eml_subj AS subj, eml_status AS status,
            (SELECT string_agg(emladdr_type || ' ' || emladdr_addr, ', ' ORDER BY emladdr_id) FROM xtbatch.emladdr WHERE emladdr_eml_id = eml_id) AS addrs,
            (SELECT string_agg(emlassc_type || ':' || emlassc_assc_id, ' ' ORDER BY emlassc_type, emlassc_assc_id) FROM xtbatch.emlassc WHERE emlassc_eml_id = eml_id) AS links
       FROM xtbatch.eml ORDER BY eml_subj`);
  expect(rows).toEqual([
    { subj: 'Invoice 1', status: 'O', addrs: `FROM erp@ourco.example, TO ${c!.email}`, links: `T:${c!.id}` },
    { subj: 'Invoice 2', status: 'O', addrs: 'FROM erp@ourco.example, TO nobody@customer.example', links: null },
    { subj: 'Invoice 3', status: 'O', addrs: `FROM erp@ourco.example, TO ${c!.email.toUpperCase()}`, links: `T:${c!.id}` },
    { subj: `Project [xtref:J-${so!.number}]`, status: 'O', addrs: `FROM erp@ourco.example, TO ${c!.email}`, links: `J:${so!.id} T:${c!.id}` },
  ]);
}, 120_000);

it('sql/0034 runs again from an ERP session (its search_path, standard_conforming_strings off), and its function answers there', async () => {
  const s = await erpSession(db.url);
  try {
    const file = loadMigrations().find((m) => m.name.startsWith('0034_'))!;
    await s.query(file.sql);
    await s.query(file.sql);
    const { rows } = await s.query(
      `SELECT o_msg, o_eml_id IS NOT NULL AS recorded
         FROM xtbatch.emlsync_import_sent(ARRAY[decode('0034', 'hex')], ARRAY[now()], ARRAY['From an ERP session'], ARRAY['b'], ARRAY[3],
                                          convert_to('x y', 'UTF8'), ARRAY[1], ARRAY['TO'], ARRAY['erp.session@customer.example'], ARRAY[''],
                                          ARRAY[1], ARRAY['erp.session@customer.example'], '{"email_column": true, "notes_column": true, "numbered": false}')`);
    expect(rows).toEqual([{ o_msg: 1, recorded: true }]);
    const { rows: eml } = await s.query(`SELECT eml_status AS status, convert_from(eml_msg, 'UTF8') AS msg FROM xtbatch.eml WHERE eml_subj = 'From an ERP session'`);
    expect(eml).toEqual([{ status: 'O', msg: 'x y' }]);
  } finally {
    await s.end();
  }
}, 120_000);
