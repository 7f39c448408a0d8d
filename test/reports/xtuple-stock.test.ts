/**
 * Every stock definition of the shared fixtures, rendered on xTuple's real 4.4 schema with its quickstart data
 * and documents made the way xTuple makes them: customers, items, quotes, sales orders, invoices, credit memos,
 * purchase orders and bills of materials through the `api` views' INSERT rules, accounting periods through
 * createAccountingYearPeriod/createAccountingPeriod, definitions in public.report and MetaSQL through
 * saveMetasql. Each PDF is read back by pdfjs and checked for its values, in order.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PermanentError } from '../../src/errors';
import type { Logger } from '../../src/log';
import { loadReport } from '../../src/reports/definitions';
import { mqlHeader, type MetaValue } from '../../src/reports/metasql';
import { renderToFile } from '../../src/reports/renderFile';
import type { TestDatabase } from '../support/db';
import { pdfText } from '../support/pdfText';
import { sharedFixturesDir } from '../support/sharedFixtures';
import { tempDir } from '../support/tempDirs';
import { createXtupleDatabase } from '../support/xtupleDb';

jest.setTimeout(600_000);

const CUSTOMER = 'Zakład Łódź Ωmega Привет';

/** Documents as xTuple's API makes them (its views' INSERT rules call xTuple's own functions). */
const DOCUMENTS = `
SELECT count(grantPriv(current_user, priv_name)) FROM priv;
INSERT INTO api.customer (customer_number, customer_type, customer_name, sales_rep, ship_via, preferred_selling_site, default_terms,
  default_currency, credit_limit_currency, billing_contact_first, billing_contact_last, billing_contact_address1, billing_contact_city,
  billing_contact_postalcode, billing_contact_country)
VALUES ('ZLODZ', 'Domestic', '${CUSTOMER}', '10', 'UPS-Ground', 'WH1', 'NET30', 'USD', 'USD', 'Jan', 'Kowalski', 'ul. Piotrkowska 1', 'Łódź', '90-001', 'Poland');
INSERT INTO api.item (item_number, active, description1, item_type, class_code, inventory_uom, item_is_sold, product_category, list_price, list_price_uom)
VALUES ('BTRUCK1', true, 'Truck Type 1', 'Purchased', 'SOLD', 'EA', true, 'STANDARD', 10.00, 'EA'),
       ('WBASKET1', true, 'Wicker Basket', 'Purchased', 'SOLD', 'EA', true, 'STANDARD', 2.50, 'EA'),
       ('KIT1', true, 'Toy Kit', 'Manufactured', 'SOLD', 'EA', true, 'STANDARD', 30.00, 'EA');
INSERT INTO api.itemsite (item_number, site, active, sold_from_site, cost_method, control_method, planner_code, cost_category,
  po_supplied_at_site, wo_supplied_at_site, group_mps_mrp_orders)
VALUES ('BTRUCK1', 'WH1', true, true, 'Standard', 'Regular', 'RM1', 'Category 1', true, false, 1),
       ('WBASKET1', 'WH1', true, true, 'Standard', 'Regular', 'RM1', 'Category 1', true, false, 1),
       ('KIT1', 'WH1', true, true, 'Standard', 'Regular', 'FG1', 'Category 1', false, true, 1);
INSERT INTO api.quote (quote_number, site, quote_date, customer_number, terms, sales_rep, ship_via, currency, cust_po_number, misc_charge, freight, commission)
VALUES ('30012', 'WH1', '2026-03-02', 'ZLODZ', 'NET30', '10', 'UPS-Ground', 'USD', 'PO-Ωmega-7', 0, 0, 0);
INSERT INTO api.quoteline (quote_number, line_number, item_number, sold_from_site, qty_ordered, net_unit_price, scheduled_date)
VALUES ('30012', '1', 'BTRUCK1', 'WH1', 4, 19.95, '2026-03-20'), ('30012', '2', 'WBASKET1', 'WH1', 6, 2.50, '2026-03-20');
INSERT INTO api.salesorder (order_number, site, order_date, customer_number, terms, sales_rep, ship_via, currency, cust_po_number, misc_charge,
  freight, commission, ship_complete, shipping_chgs, shipping_form, calculate_freight)
VALUES ('50033', 'WH1', '2026-03-03', 'ZLODZ', 'NET30', '10', 'UPS-Ground', 'USD', 'PO-Łódź-9', 0, 0, 0, false, 'WE-PAY', 'STD-PACKING-LIST', false);
INSERT INTO api.salesline (order_number, line_number, item_number, sold_from_site, status, qty_ordered, net_unit_price, scheduled_date, warranty,
  create_order, create_po)
VALUES ('50033', '1', 'BTRUCK1', 'WH1', 'O', 3, 19.95, '2026-03-21', false, false, false),
       ('50033', '2', 'WBASKET1', 'WH1', 'O', 2, 2.50, '2026-03-21', false, false, false);
INSERT INTO api.invoice (invoice_number, invoice_date, customer_number, terms, sales_rep, ship_via, currency, po_number, billto_name, billto_address1,
  billto_city, misc_charge, freight, commission, payment)
VALUES ('60096', '2026-03-04', 'ZLODZ', 'NET30', '10', 'UPS-Ground', 'USD', 'PO-Привет-1', '${CUSTOMER}', 'ul. Piotrkowska 1', 'Łódź', 0, 0, 0, 0);
INSERT INTO api.invoiceline (invoice_number, line_number, item_number, site, qty_ordered, qty_billed, net_unit_price)
VALUES ('60096', 1, 'BTRUCK1', 'WH1', 2, 2, 19.95), ('60096', 2, 'WBASKET1', 'WH1', 8, 8, 2.50);
INSERT INTO api.creditmemo (memo_number, memo_date, customer_number, sales_rep, currency, billto_name, misc_charge_amount, freight, commission)
VALUES ('70001', '2026-03-05', 'ZLODZ', '10', 'USD', '${CUSTOMER}', 0, 0, 0);
INSERT INTO api.creditmemoline (memo_number, line_number, item_number, recv_site, qty_returned, qty_to_credit, net_unit_price)
VALUES ('70001', 1, 'BTRUCK1', 'WH1', 1, 1, 19.95);
INSERT INTO api.purchaseorder (order_number, order_date, vendor_number, receiving_site, currency, freight)
VALUES ('20055', '2026-03-06', 'XTUPLE', 'WH1', 'USD', 0);
INSERT INTO api.purchaseline (order_number, line_number, item_number, site, qty_ordered, unit_price, due_date, freight)
VALUES ('20055', 1, 'BTRUCK1', 'WH1', 10, 8.25, '2026-03-30', 0), ('20055', 2, 'WBASKET1', 'WH1', 4, 1.75, '2026-03-30', 0);
INSERT INTO api.bom (item_number, revision, batch_size) VALUES ('KIT1', '', 1);
INSERT INTO api.bomitem (bom_item_number, bom_revision, sequence_number, item_number, effective, expires, qty_per, issue_uom, scrap, issue_method)
VALUES ('KIT1', '', 10, 'BTRUCK1', NULL, NULL, 2, 'EA', 0, 'Mixed'), ('KIT1', '', 20, 'WBASKET1', NULL, NULL, 1, 'EA', 0, 'Mixed');
SELECT createAccountingYearPeriod('2026-01-01', '2026-12-31');
SELECT createAccountingPeriod(make_date(2026, m, 1), (make_date(2026, m, 1) + interval '1 month' - interval '1 day')::date,
                              (SELECT yearperiod_id FROM yearperiod), (m - 1) / 3 + 1)
  FROM generate_series(1, 6) m ORDER BY m;
`;

let db: TestDatabase;
const ids: Record<string, number> = {};
const warnings: string[] = [];
const log = { warn: (m: string) => warnings.push(m), info() {}, debug() {}, error() {} } as unknown as Logger;

beforeAll(async () => {
  db = await createXtupleDatabase({ data: true, migrated: true });
  await db.pool.query(DOCUMENTS);
  const dir = sharedFixturesDir('openrpt');
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.xml'))) {
    const xml = fs.readFileSync(path.join(dir, f), 'utf8');
    const name = /<report>[\s\S]*?<name>([^<]*)<\/name>/.exec(xml)![1]!.trim();
    await db.pool.query('INSERT INTO report (report_name, report_grade, report_source, report_descrip) VALUES ($1, 0, $2, $3)', [name, xml, f]);
  }
  const mql = sharedFixturesDir('metasql');
  for (const f of fs.readdirSync(mql).filter((x) => x.endsWith('.mql'))) {
    const source = fs.readFileSync(path.join(mql, f), 'utf8');
    const h = mqlHeader(source);
    await db.pool.query('SELECT saveMetasql($1, $2, $3, $4)', [h.group, h.name, h.notes ?? '', source]);
  }
  const one = async (sql: string): Promise<number> => Number((await db.pool.query(sql)).rows[0].id);
  ids.invoice = await one(`SELECT invchead_id AS id FROM invchead WHERE invchead_invcnumber = '60096'`);
  ids.quote = await one(`SELECT quhead_id AS id FROM quhead WHERE quhead_number = '30012'`);
  ids.order = await one(`SELECT cohead_id AS id FROM cohead WHERE cohead_number = '50033'`);
  ids.po = await one(`SELECT pohead_id AS id FROM pohead WHERE pohead_number = '20055'`);
  ids.memo = await one(`SELECT cmhead_id AS id FROM cmhead WHERE cmhead_number = '70001'`);
  ids.kit = await one(`SELECT item_id AS id FROM item WHERE item_number = 'KIT1'`);
  ids.income = await one(`SELECT flhead_id AS id FROM flhead WHERE flhead_name = 'Basic Income Statement'`);
  ids.classSold = await one(`SELECT classcode_id AS id FROM classcode WHERE classcode_code = 'SOLD'`);
});

afterAll(async () => {
  await db?.drop();
});

async function render(report: string, p: Record<string, MetaValue>): Promise<{ pages: string[][]; file: string }> {
  const { def } = await loadReport(db.pool, report, (m) => new Error(m));
  const file = path.join(tempDir('xtc-stock-'), `${report}.pdf`);
  const out = await renderToFile({ pool: db.pool, def, params: new Map(Object.entries(p)), format: 'pdf', queryTimeoutSeconds: 120, log }, file);
  const { pages } = await pdfText(file);
  expect(pages).toHaveLength(out.pages!);
  return { pages, file };
}

/** Each expected text appears after the one before it, reading the pages in order. */
function expectInOrder(pages: string[][], expected: string[]): void {
  const text = pages.map((p) => p.join('\n')).join('\n\f\n');
  let at = 0;
  for (const want of expected) {
    const i = text.indexOf(want, at);
    if (i < 0) throw new Error(`"${want}" does not appear after the values before it; the text from there is:\n${text.slice(at, at + 600)}`);
    at = i + want.length;
  }
}

describe('stock documents on the 4.4 schema', () => {
  it('Invoice: XML character references in its queries, the customer name in Polish, Greek and Cyrillic, character for character', async () => {
    const { pages } = await render('Invoice', { invchead_id: ids.invoice! });
    expectInOrder(pages, ['60096', 'PO-Привет-1', 'ZLODZ', CUSTOMER, 'ul. Piotrkowska 1', 'BTRUCK1', '19.9500', '39.90', 'Truck Type 1',
      'WBASKET1', '2.5000', '20.00', 'Wicker Basket', 'Subtotal:', '59.90', 'Total Due:', '59.90', 'Page:', '1', 'of', '1']);
    // One text item holds the whole name, exactly as stored.
    expect(pages[0]).toContain(CUSTOMER);
  });

  it('Quote', async () => {
    const { pages } = await render('Quote', { quhead_id: ids.quote! });
    expectInOrder(pages, ['30012', '03/02/26', 'ZLODZ', 'PO-Ωmega-7', 'UPS-Ground', '1', 'BTRUCK1', 'Truck Type 1', '4.00', '19.9500', '79.80',
      '2', 'WBASKET1', 'Wicker Basket', '6.00', '2.5000', '15.00', 'Sub-Total:', '94.80', 'Total:', '94.80']);
  });

  it('PurchaseOrder', async () => {
    const { pages } = await render('PurchaseOrder', { pohead_id: ids.po!, title: 'Original' });
    expectInOrder(pages, ['20055', '03/06/26', 'xTuple ERP', 'BTRUCK1', '8.2500', '82.50', '10.00', '03/30/26',
      'WBASKET1', '1.7500', '7.00', '4.00', '03/30/26', 'SUB TOTAL', '89.50']);
  });

  it('PackingList of a sales order', async () => {
    const { pages } = await render('PackingList', { head_id: ids.order!, head_type: 'SO' });
    expectInOrder(pages, ['50033', 'ZLODZ', 'PO-Łódź-9', '03/03/26', '03/21/26', 'UPS-Ground', 'Jan Kowalski',
      'BTRUCK1', 'EA', '3.00', 'Truck Type 1', 'WBASKET1', 'EA', '2.00', 'Wicker Basket', '50033']);
  });

  it('IndentedBOM: its query takes sequence values (nextval) in the report\'s transaction', async () => {
    const before = (await db.pool.query(`SELECT count(*)::int AS n FROM bomwork`)).rows[0].n;
    const { pages } = await render('IndentedBOM', { item_id: ids.kit!, revision_id: -1, expiredDays: 0, futureDays: 0, always: 'Always', never: 'Never' });
    expectInOrder(pages, ['KIT1', 'EA', 'Toy Kit', '10', 'BTRUCK1', 'EA', '2.0000', 'Always', 'Never', 'Truck Type 1',
      '20', 'WBASKET1', 'EA', '1.0000', 'Wicker Basket']);
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM bomwork`)).rows[0].n).toBe(before);
  });

  it('FinancialReport: several statements, the first filling work tables; nothing it wrote is left', async () => {
    const before = (await db.pool.query(`SELECT count(*)::int AS n FROM flrpt`)).rows[0].n;
    const periods = (await db.pool.query(`SELECT period_id FROM period WHERE period_start < '2026-04-01' ORDER BY period_start`)).rows.map((r) => r.period_id);
    expect(periods).toHaveLength(3);
    const { pages } = await render('FinancialReport', { flhead_id: ids.income!, period_id_list: periods, interval: 'M', prj_id: -1 });
    expectInOrder(pages, ['Financial Report', 'Basic Income Statement', 'INCOME', 'REVENUE', 'Total Net Revenue', '0.00', 'EXPENSES',
      'Total Net Expenses', 'Net Income', '0.00']);
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM flrpt`)).rows[0].n).toBe(before);
  });

  it('APOpenItemsByVendor: a typed literal (date <? value("asofDate") ?>) and a column asked for in another case', async () => {
    const { pages } = await render('APOpenItemsByVendor', { asofDate: '2026-03-31', startDate: '2026-01-01', endDate: '2026-12-31' });
    expectInOrder(pages, ['Open Payables', 'All Vendors', '01/01/26', '12/31/26', 'As of Date:', '03/31/26', 'Total:', '0.00']);
  });

  it('master lists, labels, aging and the G/L on the quickstart data', async () => {
    expectInOrder((await render('UOMs', {})).pages, ['CS', 'Case', 'DAY', 'Day', 'EA', 'Each', 'HR', 'Hours', 'KG', 'Kilograms', 'LB', 'Pounds', 'PL', 'Pallet']);
    expectInOrder((await render('ClassCodesMasterList', {})).pages, ['COMPONENT', 'Component', 'OUTSIDE PROCESS', 'Outside Process', 'SOLD', 'Sold Items',
      'SUB ASSEMBLY', 'Sub Assembly']);
    expectInOrder((await render('Items', {})).pages, ['BTRUCK1', 'Truck Type 1', 'KIT1', 'Toy Kit', 'WBASKET1', 'Wicker Basket']);
    expectInOrder((await render('ARAging', { relDate: '2026-03-31', useDocDate: false })).pages, ['Accounts Receivable Aging Report', '2026-03-31', 'TOTAL:']);
    expectInOrder((await render('GLTransactions', { startDate: '2026-01-01', endDate: '2026-12-31' })).pages, ['G/L Transactions', 'Total:']);
    const labels = (await render('itemLabel', { classcode_id: ids.classSold! })).pages.flat().join('\n');
    for (const item of ['BTRUCK1', 'WBASKET1', 'KIT1']) expect(labels).toContain(item);
    const image = await db.pool.query(`SELECT image_id, image_name FROM image WHERE image_name = 'logo'`);
    expectInOrder((await render('Image', { image_id: image.rows[0].image_id })).pages, ['Image', 'logo']);
  });
});

describe('definitions written for later xTuple versions', () => {
  it('CreditMemo needs cmitem_number/cmitem_descrip (misc. items, after 4.4): fails naming the column, renders once they exist', async () => {
    const err = await render('CreditMemo', { cmhead_id: ids.memo! }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toBe('report "CreditMemo", query "Detail": column "cmitem_number" does not exist');
    await db.pool.query(`ALTER TABLE cmitem ADD COLUMN cmitem_number text, ADD COLUMN cmitem_descrip text`);
    try {
      const { pages } = await render('CreditMemo', { cmhead_id: ids.memo! });
      expectInOrder(pages, ['70001', '03/05/26', 'ZLODZ', CUSTOMER, 'ul. Piotrkowska 1', 'Łódź', '90-001', 'Poland',
        '1.00', 'EA', 'BTRUCK1', '19.9500', '19.95', 'Truck Type 1', 'Subtotal:', '19.95', 'Total Credit:', '19.95']);
    } finally {
      await db.pool.query(`ALTER TABLE cmitem DROP COLUMN cmitem_number, DROP COLUMN cmitem_descrip`);
    }
  });

  it('CashReceipts: its MetaSQL (closed at the end, with a warning) runs; the SQL needs a later schema', async () => {
    warnings.length = 0;
    const err = await render('CashReceipts', { startDate: '2026-01-01', endDate: '2026-12-31' }).catch((e: unknown) => e);
    expect(warnings).toEqual([expect.stringContaining('MetaSQL "cashReceipts-detail" line 11: <? if exists("LegacyDisplayMode") ?> has no matching <? endif ?>')]);
    // A database error, not a MetaSQL one: the statement was valid SQL, written for cashrcpt columns 4.4 lacks.
    expect((err as Error).message).toMatch(/^report "CashReceipts", query "detail": column "cashrcpt[a-z_]*" does not exist$/);
    const legacy = await render('CashReceipts', { startDate: '2026-01-01', endDate: '2026-12-31', LegacyDisplayMode: true }).catch((e: unknown) => e);
    expect((legacy as Error).message).toBe('report "CashReceipts", query "detail": function getfundstypename(text) does not exist');
  });
});
