import fs from 'node:fs';
import path from 'node:path';
import type { Pool } from '../../src/db/pool';
import { sharedFixturesDir } from '../support/sharedFixtures';
import type { MetaParams, MetaValue } from '../../src/reports/metasql';


export function fixtureXml(file: string): string {
  return fs.readFileSync(path.join(sharedFixturesDir('openrpt'), file), 'utf8');
}

/** The report's `<name>` as OpenRPT stores it in report_name. */
export function reportNameOf(xml: string): string {
  const m = /<report>[\s\S]*?<name>([^<]*)<\/name>/.exec(xml);
  if (!m) throw new Error('fixture definition without <name>');
  return m[1]!.trim();
}

const SQL_DIR = path.resolve(__dirname, '../fixtures/reports');

/**
 * Creates the ERP tables and helper functions the fixture reports query, fills them, and stores every fixture
 * definition in xtbatch.xtconnect_report (grade 0). Returns report file → report name.
 */
export async function loadReportFixtures(pool: Pool): Promise<Map<string, string>> {
  for (const f of ['schema.sql', 'data.sql']) await pool.query(fs.readFileSync(path.join(SQL_DIR, f), 'utf8'));
  const names = new Map<string, string>();
  for (const file of fs.readdirSync(sharedFixturesDir('openrpt')).filter((f) => f.endsWith('.xml')).sort()) {
    const xml = fixtureXml(file);
    const name = reportNameOf(xml);
    await pool.query(`INSERT INTO xtbatch.xtconnect_report (report_name, report_grade, report_source, report_descrip) VALUES ($1, 0, $2, $3)`,
      [name, xml, `fixture ${file}`]);
    names.set(file, name);
  }
  return names;
}

export function params(entries: Record<string, MetaValue>): MetaParams {
  return new Map(Object.entries(entries));
}

/**
 * For each fixture: the parameters it runs with, and values its PDF must show in this order (text of one page
 * after another). Values come from test/fixtures/reports/data.sql; formatted numbers follow its formatNumeric.
 */
export interface FixtureCase {
  file: string;
  params: MetaParams;
  expectInOrder: string[];
  /** At least this many pages. */
  minPages: number;
  /** Values that must all appear, in any order (rows of a query without ORDER BY). */
  expectAnyOrder?: string[];
}

const classCodes = Array.from({ length: 120 }, (_, i) => `CC-${String(i + 1).padStart(3, '0')}`);
const glNewestFirst = Array.from({ length: 60 }, (_, i) => `JE-${String(60 - i).padStart(3, '0')}`);

export const FIXTURE_CASES: FixtureCase[] = [
  { file: 'ARAging.xml', params: params({ relDate: '2026-06-30', useDocDate: false }), minPages: 1,
    expectInOrder: ['Adams Hardware', 'AHARDWARE', 'INV-1003', '980.00', 'Tremendous Toys Inc.', 'TTOYS', 'INV-1002', '300.50', 'INV-1001', '1,250.00', 'DM-2001', '75.25'] },
  { file: 'ClassCodesMasterList.xml', params: params({}), minPages: 2, expectInOrder: classCodes },
  { file: 'CreditMemo.xml', params: params({ cmhead_id: 1 }), minPages: 1,
    expectInOrder: ['70001', 'Tremendous Toys Inc.', 'BTRUCK1', '50.00', 'WBASKET1', '12.50', '62.50', '76.00'] },
  { file: 'GLTransactions.xml', params: params({ startDate: '2026-01-01', endDate: '2026-12-31' }), minPages: 2,
    expectInOrder: glNewestFirst },
  { file: 'Image.xml', params: params({ image_id: 2 }), minPages: 1, expectInOrder: ['redbox', 'A small red test picture'] },
  { file: 'PurchaseOrder.xml', params: params({ pohead_id: 1, title: 'Original', showcosts: true }), minPages: 1,
    expectInOrder: ['20055', 'Acme Supply Co.', 'BTRUCK1', '82.50', 'WBASKET1', '20.00', 'OFFICE', '99.99', '202.49', '223.74'] },
  { file: 'Quote.xml', params: params({ quhead_id: 1 }), minPages: 1,
    expectInOrder: ['30012', 'TTOYS', 'BTRUCK1', '79.80', 'WBASKET1', '15.00', '94.80', '110.90'] },
  { file: 'UOMs.xml', params: params({}), minPages: 1, expectInOrder: ['BX', 'Box', 'CS', 'Case', 'EA', 'Each', 'KG', 'Kilogram', 'LB', 'Pound'] },
  { file: 'itemLabel.xml', params: params({ classcode_id: 1 }), minPages: 1, expectInOrder: [],
    expectAnyOrder: ['BTRUCK1', 'YTRUCK1', 'RCV-01'] },
  { file: 'items.xml', params: params({}), minPages: 1,
    expectInOrder: ['BTRUCK1', 'Truck Type 1', 'WBASKET1', 'Wicker Basket', 'YTRUCK1'] },
];
