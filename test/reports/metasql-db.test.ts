import fs from 'node:fs';
import path from 'node:path';
import { renderMetaSql, type MetaValue } from '../../src/reports/metasql';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { sharedFixturesDir } from '../support/sharedFixtures';

let db: TestDatabase;

function fixture(file: string): string {
  return fs.readFileSync(path.join(sharedFixturesDir('metasql'), file), 'utf8');
}

beforeAll(async () => {
  db = await createTestDatabase();
  await db.pool.query(`
    CREATE TABLE mql_cust (cust_id integer PRIMARY KEY, cust_name text NOT NULL, cust_since date NOT NULL, cust_active boolean NOT NULL);
    INSERT INTO mql_cust VALUES
      (1, 'O''Brien', '2020-01-15', true),
      (2, 'Acme', '2021-06-30', true),
      (3, 'Zed', '2023-12-31', false),
      (4, ''';  DROP TABLE mql_cust; --', '2024-02-29', true);
    CREATE FUNCTION mql_sum_ids(integer[]) RETURNS bigint LANGUAGE sql AS 'SELECT sum(x) FROM unnest($1) x';
  `);
});

afterAll(async () => {
  await db.drop();
});

async function run(source: string, p: Record<string, MetaValue>, name = 'test', share = true): Promise<Array<Record<string, unknown>>> {
  const { text, values } = renderMetaSql(source, new Map(Object.entries(p)), name, { share });
  // A named statement makes the server PREPARE it, as the report runner will.
  const r = await db.pool.query({ name: `mql_${Math.abs(hash(text))}`, text, values });
  return r.rows;
}

function hash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
  return h;
}

const byName = `SELECT cust_id FROM mql_cust WHERE cust_name = <? value("name") ?> ORDER BY cust_id`;

it('finds a name with a quote in it by value, never by pasting', async () => {
  expect(await run(byName, { name: "O'Brien" })).toEqual([{ cust_id: 1 }]);
});

it('treats an injection attempt as a plain value: it matches only itself and drops nothing', async () => {
  expect(await run(byName, { name: "'; DROP TABLE x; --" })).toEqual([]);
  expect(await run(byName, { name: "';  DROP TABLE mql_cust; --" })).toEqual([{ cust_id: 4 }]);
  const left = await db.pool.query('SELECT count(*)::int AS n FROM mql_cust');
  expect(left.rows).toEqual([{ n: 4 }]);
});

it('runs a foreach IN list of integers, and the same template with a shorter list', async () => {
  const q = `SELECT cust_id FROM mql_cust WHERE cust_id IN (<? foreach("ids") ?><? if not isfirst("ids") ?>, <? endif ?><? value("ids") ?><? endforeach ?>) ORDER BY cust_id`;
  expect(await run(q, { ids: [3, 1, 99] })).toEqual([{ cust_id: 1 }, { cust_id: 3 }]);
  expect(await run(q, { ids: [2] })).toEqual([{ cust_id: 2 }]);
});

it('passes a foreach ARRAY of integers to a function taking integer[] (postJournals style)', async () => {
  const q = `SELECT mql_sum_ids(ARRAY[<? foreach("ids") ?><? if not isfirst("ids") ?>,<? endif ?><? value("ids") ?><? endforeach ?>]) AS total`;
  expect(await run(q, { ids: [1, 2, 3, 4] })).toEqual([{ total: '10' }]);
});

it('compares a date parameter with a date column, as a Date or as ISO text', async () => {
  const q = `SELECT cust_id FROM mql_cust WHERE cust_since BETWEEN <? value("from") ?> AND <? value("to") ?> ORDER BY cust_id`;
  expect(await run(q, { from: new Date('2021-06-30T00:00:00Z'), to: '2023-12-31' })).toEqual([{ cust_id: 2 }, { cust_id: 3 }]);
  expect(await run(q, { from: '2024-02-29', to: new Date('2024-02-29T00:00:00Z') })).toEqual([{ cust_id: 4 }]);
});

it('binds an absent parameter as NULL, which stays untyped like the NULL Qt pasted', async () => {
  const q = `SELECT <? value("gone") ?> IS NULL AS missing, COALESCE(<? value("gone") ?>, 'fallback') AS text,
                    (SELECT count(*)::int FROM mql_cust WHERE cust_since > <? value("gone") ?>) AS none`;
  expect(await run(q, {})).toEqual([{ missing: true, text: 'fallback', none: 0 }]);
});

it('binds booleans as booleans and picks branches with exists', async () => {
  const q = `SELECT cust_id FROM mql_cust WHERE true
             <? if exists("active") ?> AND cust_active = <? value("active") ?> <? endif ?>
             <? if exists("name_pattern") and not exists("name") ?> AND cust_name ~* <? value("name_pattern") ?>
             <? elseif exists("name") ?> AND cust_name = <? value("name") ?> <? endif ?>
             ORDER BY cust_id`;
  expect(await run(q, { active: false })).toEqual([{ cust_id: 3 }]);
  expect(await run(q, { active: true, name_pattern: '^a' })).toEqual([{ cust_id: 2 }]);
  expect(await run(q, { name_pattern: '^a', name: 'Zed' })).toEqual([{ cust_id: 3 }]);
  expect(await run(q, {})).toHaveLength(4);
});

it('uses one parameter as text and as an integer in the same statement', async () => {
  // A number is typed, so one shared placeholder serves both uses.
  const q = `SELECT 'Customer ' || <? value("id") ?> AS label, cust_name FROM mql_cust WHERE cust_id = <? value("id") ?>`;
  expect(await run(q, { id: 2 })).toEqual([{ label: 'Customer 2', cust_name: 'Acme' }]);
  // A string shared by both would need two types (here: integer = text has no operator); the report runner
  // then binds one placeholder per use (query.ts).
  await expect(run(q, { id: '2' })).rejects.toMatchObject({ code: '42883' });
  expect(await run(q, { id: '2' }, 'test', false)).toEqual([{ label: 'Customer 2', cust_name: 'Acme' }]);
});

it('orders by a column whose expression holds the same value twice in the select list (salesAccounts-detail)', async () => {
  const q = `SELECT CASE WHEN cust_active THEN <? value("any") ?> ELSE cust_name END AS code,
                    CASE WHEN cust_active THEN <? value("any") ?> ELSE cust_name END AS code
               FROM mql_cust ORDER BY code, 1`;
  expect((await run(q, { any: 'Any' })).map((r) => r.code)).toEqual(['Any', 'Any', 'Any', 'Zed']);
  // One placeholder per use makes the two expressions differ, and PostgreSQL cannot tell which "code" is meant.
  await expect(run(q, { any: 'Any' }, 'test', false)).rejects.toThrow(/ambiguous/);
});

it('casts a typed literal and runs several statements, the last one giving the rows', async () => {
  const r = renderMetaSql(
    `CREATE TEMP TABLE mql_tmp AS SELECT cust_id FROM mql_cust WHERE cust_since < date <? value("asof") ?>;
     SELECT count(*)::int AS n, <? value("asof") ?>::text AS asof FROM mql_tmp;`,
    new Map([['asof', '2022-01-01']]),
    'multi',
  );
  expect(r.statements).toHaveLength(2);
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    for (const st of r.statements.slice(0, -1)) await client.query(st.text, st.values);
    expect((await client.query(r.text, r.values)).rows).toEqual([{ n: 2, asof: '2022-01-01' }]);
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
});

it('runs a legacy query with %N and $"name", quoted or not, without pasting', async () => {
  const q = `SELECT cust_id FROM mql_cust WHERE cust_name LIKE '%1%' AND cust_active = $"Active" ORDER BY cust_id`;
  expect(await run(q, { pattern: 'Q', active: true })).toEqual([]);
  expect(await run(q, { pattern: "O'", active: true })).toEqual([{ cust_id: 1 }]);
  expect(await run(`SELECT cust_name FROM mql_cust WHERE cust_id = %1`, { id: 3 })).toEqual([{ cust_name: 'Zed' }]);
});

it('runs a fixture: 1099-addaccount updates one row with bound values', async () => {
  await db.pool.query(`CREATE TABLE accnt (accnt_id integer PRIMARY KEY, accnt_1099_form_type text);
                       INSERT INTO accnt VALUES (1, NULL), (2, NULL)`);
  const { text, values } = renderMetaSql(fixture('1099-addaccount.mql'), new Map<string, MetaValue>([['box', "MISC'--"], ['accnt_id', 2]]), '1099-addaccount');
  const r = await db.pool.query(text, values);
  expect(r.rowCount).toBe(1);
  const rows = await db.pool.query('SELECT accnt_id, accnt_1099_form_type FROM accnt ORDER BY accnt_id');
  expect(rows.rows).toEqual([
    { accnt_id: 1, accnt_1099_form_type: null },
    { accnt_id: 2, accnt_1099_form_type: "MISC'--" },
  ]);
});
