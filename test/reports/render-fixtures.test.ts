/**
 * The ten real xTuple report definitions rendered with rows shaped like their queries, read back with pdfjs:
 * values in order, page breaks where sections overflow, header and footer variants, group heads and feet,
 * totals and subtotals, page numbers.
 */
import { defaultBuiltinFormat, memoryData, type Row } from '../../src/reports/openrpt';
import { pdfText, pdfTextItems } from '../support/pdfText';
import { expectInOrder, imageCount, loadFixture, renderToBuffer } from './fixtures-render/helpers';
import {
  AGING_LINES, agingRows, agingTotal, creditMemoRows, glRows, itemRows, labelRows, LOGO_UU, poRows, quoteRows,
} from './fixtures-render/rows';

const money = (n: number): string => n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

describe('rendering the xTuple fixtures', () => {
  test('UOMs: 120 rows over 3 pages; the empty firstpage header hides the column header on page 1 only', async () => {
    const rows: Row[] = Array.from({ length: 120 }, (_, i) => ({ uom_name: `UOM${String(i).padStart(3, '0')}`, uom_descrip: `Unit ${i}` }));
    const { pdf, pages } = await renderToBuffer(loadFixture('UOMs'), memoryData({ detail: rows }));
    expect(pages).toBe(3);
    const t = await pdfText(pdf);
    expect(t.pages).toHaveLength(3);
    // Page 1: 50 top + 0 (empty header) + 76 rpthead; rows of 16 while y + 16 + 16 (footer) + 50 < 1100: 56 rows.
    expectInOrder(t.pages[0]!, ['Units of Measure', 'UOM', 'Description', 'UOM000', 'Unit 0', 'UOM001', 'UOM055', 'Unit 55', 'Report Date:', '2026-11-26', 'Page:', '1']);
    expect(t.pages[0]).not.toContain('UOM056');
    // Page 2: the "any" header (21) then 60 rows.
    expectInOrder(t.pages[1]!, ['UOM', 'Description', 'UOM056', 'UOM115', 'Page:', '2']);
    expect(t.pages[1]).not.toContain('Units of Measure');
    expect(t.pages[1]).not.toContain('UOM116');
    expectInOrder(t.pages[2]!, ['UOM', 'Description', 'UOM116', 'UOM119', 'Page:', '3']);
  });

  test('ClassCodesMasterList: rows continue on page 2 below the "any" header', async () => {
    const rows: Row[] = Array.from({ length: 70 }, (_, i) => ({ classcode_code: `CC-${i}`, classcode_descrip: `Class ${i}` }));
    const { pdf, pages } = await renderToBuffer(loadFixture('ClassCodesMasterList'), memoryData({ detail: rows }));
    expect(pages).toBe(2);
    const t = await pdfText(pdf);
    expectInOrder(t.pages[0]!, ['Class Codes Master List', 'Class Code', 'Description', 'CC-0', 'Class 0', 'CC-55', 'Page:', '1']);
    expectInOrder(t.pages[1]!, ['Class Code', 'Description', 'CC-56', 'CC-69', 'Class 69', 'Page:', '2']);
  });

  test('ARAging: group per customer, subtotals in each foot, a page break after each foot, grand totals in the lastpage footer', async () => {
    const { pdf, pages } = await renderToBuffer(loadFixture('ARAging'), memoryData({ detail: agingRows() }), {
      parameters: new Map([['relDate', '2026-11-26']]),
    });
    expect(pages).toBe(3);
    const text = await pdfText(pdf);
    const items = await pdfTextItems(pdf);
    expect(items[0]).toMatchObject({ width: 792, height: 612 }); // landscape Letter
    const customers = ['C100', 'C200', 'C300'];
    customers.forEach((cust, p) => {
      const lines = AGING_LINES.filter((l) => l.cust === cust);
      const page = text.pages[p]!;
      const head = p === 0 ? ['Accounts Receivable Aging Report', 'As of:', '2026-11-26'] : [];
      expectInOrder(page, [
        ...head, 'Customer Name:', `Customer ${cust}`, 'Customer Number:', cust, 'Terms:', `Net 30 ${cust}`,
        ...lines.flatMap((l) => [l.doc, l.cur.toFixed(2), l.thirty.toFixed(2), l.sixty.toFixed(2), l.ninety.toFixed(2), l.plus.toFixed(2)]),
        // Subtotals: only this customer's rows (the checkpoint is the total at the previous group's end).
        money(sum(lines.map((l) => l.cur))), money(sum(lines.map((l) => l.thirty))), money(sum(lines.map((l) => l.sixty))),
        money(sum(lines.map((l) => l.ninety))), money(sum(lines.map((l) => l.plus))),
        'Total For Customer', `Customer ${cust}`, money(sum(lines.map(agingTotal))),
      ]);
      // Only this customer's documents on this page.
      for (const other of AGING_LINES.filter((l) => l.cust !== cust)) expect(page).not.toContain(other.doc);
    });
    // Pages 1 and 2 end with the "any" footer, page 3 with the lastpage footer and its grand totals.
    for (const p of [0, 1]) {
      expect(text.pages[p]).not.toContain('Report Totals:');
      expectInOrder(text.pages[p]!, ['Page:', String(p + 1)]);
    }
    expectInOrder(text.pages[2]!, [
      'Report Totals:', money(sum(AGING_LINES.map((l) => l.cur))), money(sum(AGING_LINES.map((l) => l.thirty))),
      money(sum(AGING_LINES.map((l) => l.sixty))), money(sum(AGING_LINES.map((l) => l.ninety))), money(sum(AGING_LINES.map((l) => l.plus))),
      'TOTAL:', money(sum(AGING_LINES.map(agingTotal))), 'Page:', '3',
    ]);
  });

  test('GLTransactions: 40 rows over 3 landscape pages, running total, report footer totals, the filter parameter', async () => {
    const rows = glRows(40);
    const { pdf, pages } = await renderToBuffer(loadFixture('GLTransactions'), memoryData({ head: [{ f_username: 'User' }], detail: rows }), {
      parameters: new Map([['filter', 'Account 01-01-1000-01 only']]),
    });
    expect(pages).toBe(3);
    const t = await pdfText(pdf);
    // Page 1: 50 + 205 rpthead; rows of 30 while y + 30 + 41 + 50 < 850: rows 0..15; page 2: 45 header, rows 16..37.
    const doc = (i: number): string => `GL-${String(i).padStart(4, '0')}`;
    expectInOrder(t.pages[0]!, ['G/L Transactions', 'Account 01-01-1000-01 only', 'Running Total', doc(0), doc(1), doc(15), 'Page:', '1']);
    expect(t.pages[0]).not.toContain(doc(16));
    expectInOrder(t.pages[1]!, ['Running Total', doc(16), doc(37), 'Page:', '2']);
    expect(t.pages[1]).not.toContain('G/L Transactions');
    expectInOrder(t.pages[2]!, [doc(38), doc(39), 'Total:']);
    // The running total of row k is the sum of `running` over rows 0..k.
    let running = 0;
    const runningTexts = rows.map((r) => money((running += r['running'] as number)));
    expectInOrder(t.pages[0]!, [doc(3), runningTexts[3]!, doc(4), runningTexts[4]!]);
    const debit = sum(rows.map((r) => r['debit_amt'] as number));
    const credit = sum(rows.map((r) => r['credit_amt'] as number));
    const totals = [money(credit), money(debit), money(debit - credit)];
    for (const v of totals) expect(t.pages[2]).toContain(v);
    expectInOrder(t.pages[2]!, ['Report Date:', '2026-11-26', 'Page:', '3']);
  });

  test('PurchaseOrder: header on every page with its page number, watermark from Head.title, lastpage footer once', async () => {
    const { pdf, pages } = await renderToBuffer(loadFixture('PurchaseOrder'), memoryData(poRows(12)));
    expect(pages).toBe(3);
    const t = await pdfText(pdf);
    // 28 + 376 header; rows of 107 while y + 107 + 57 (footer) + 28 < 1100; the last row checks the 113 lastpage footer.
    const linesOn = [[1, 5], [6, 10], [11, 12]];
    linesOn.forEach(([from, to], p) => {
      const page = t.pages[p]!;
      expectInOrder(page, ['Main Warehouse', 'Purchase Order', 'PO-77001', 'PAGE', String(p + 1), 'PRINT DATE', '2026-11-26', 'Acme Supply']);
      for (let line = from!; line <= to!; line++) expectInOrder(page, [`ITEM-${line}`, `Widget number ${line}`]);
      expect(page).not.toContain(`ITEM-${to! + 1}`);
      expect(page).toContain('ORIGINAL'); // the watermark
    });
    for (const p of [0, 1]) expect(t.pages[p]).not.toContain('SUB TOTAL');
    expectInOrder(t.pages[2]!, ['Deliver to dock 4.', 'SUB TOTAL', '$', '1,000.00', 'FREIGHT', '15.00', 'TAX', '80.00', 'TOTAL', '1,095.00']);
    // The logo from the Logo query is embedded once although every page shows it.
    expect(imageCount(pdf)).toBe(1);
  });

  test('Quote: group head and foot per line, characteristics as detail rows, totals foot once, two sections on one query', async () => {
    const { pdf, pages } = await renderToBuffer(loadFixture('Quote'), memoryData(quoteRows(6)));
    expect(pages).toBe(2);
    const t = await pdfText(pdf);
    expectInOrder(t.pages[0]!, [
      'Quote', 'Order #:', 'Q-5001', 'Bill To:', 'Billy Buyer', '10 Bill St', 'Billtown',
      '1', 'QI-1', 'Quoted item 1', 'Color', 'Shade1', 'Additional Description:', 'First line memo', 'CPN-1',
      '2', 'QI-2', 'Color', 'Blue', 'Size', 'XL', 'CPN-2',
      '6', 'QI-6', 'Color', 'Shade6', 'CPN-6', 'Quote Date:', 'Page:', '1',
    ]);
    // Each line's head prints once, even for the line with two characteristic rows.
    expect(t.pages[0]!.filter((s) => s === 'QI-2')).toHaveLength(1);
    // The totals foot (87) no longer fits on page 1; it prints once, then the comments sections.
    expectInOrder(t.pages[1]!, ['Sub-Total:', '60.00', 'US Dollar', 'Total:', '76.80', 'Order Comments:', 'Order comment line one.',
      'Order comment line two.', 'Shipping Comments:', 'Ship with care.', 'Page:', '2']);
    expect(t.pages.flat().filter((s) => s === 'Sub-Total:')).toHaveLength(1);
  });

  test('CreditMemo: firstpage header and footer on page 1 only; a long comment grows its row', async () => {
    const { pdf, pages } = await renderToBuffer(loadFixture('CreditMemo'), memoryData(creditMemoRows(14)));
    expect(pages).toBe(2);
    const t = await pdfText(pdf);
    expectInOrder(t.pages[0]!, [
      'Our Company', 'Sales Credit', 'Return #:', 'CM-42', 'Credit Customer', 'CMI-1', 'CMI-2', 'CMI-3',
      'Comment line 1 for item three.', 'Comment line 12 for item three.', 'Subtotal:', '999.00', 'Total Credit:', '1,005.00',
    ]);
    expect(t.pages[0]).not.toContain('CMI-4');
    // Page 2 has neither header nor footer: both are firstpage-only.
    expect(t.pages[1]![0]).toBe('4.00');
    expectInOrder(t.pages[1]!, ['CMI-4', 'CMI-14']);
    expect(t.pages[1]).not.toContain('Sales Credit');
    expect(t.pages[1]).not.toContain('Subtotal:');
    // The grown row pushes the next one down: CMI-4 would have fit on page 1 otherwise.
    const items = await pdfTextItems(pdf);
    const y = (s: string): number => items[0]!.items.find((i) => i.str === s)!.y;
    expect(y('Comment line 12 for item three.') - y('Comment line 1 for item three.')).toBeCloseTo(11 * 17 * 0.72, 0);
  });

  test('items: a two-line detail over two pages', async () => {
    const { pdf, pages } = await renderToBuffer(loadFixture('items'), memoryData({ detail: itemRows(20) }), {
      parameters: new Map([['filter', 'All Items']]),
    });
    expect(pages).toBe(2);
    const t = await pdfText(pdf);
    // Page 1: 50 + 241 rpthead, rows of 81 while y + 81 + 16 + 50 < 1100: rows 0..8. Page 2: 81 header, rows 9..19.
    expectInOrder(t.pages[0]!, ['Items', 'All Items', 'Item Number', 'ITM-000', 'Item description 0', 'second 0', 'ITM-001', 'ITM-008', 'Page:', '1']);
    expect(t.pages[0]).not.toContain('ITM-009');
    expectInOrder(t.pages[1]!, ['Item Number', 'Description 1', 'ITM-009', 'Item description 9', 'ITM-019', 'Page:', '2']);
  });

  test('itemLabel: ten Avery 5263 labels per sheet, across then down, with 3of9 bars', async () => {
    const { pdf, pages } = await renderToBuffer(loadFixture('itemLabel'), memoryData({ detail: labelRows(12) }));
    expect(pages).toBe(2);
    const items = await pdfTextItems(pdf);
    const at = (p: number, s: string): { x: number; y: number } => items[p]!.items.find((i) => i.str === s)!;
    // Label 2 sits one label width (4 in = 288 pt) right of label 1; label 3 one label height (2 in) below.
    expect(at(0, 'LBL-2').x - at(0, 'LBL-1').x).toBeCloseTo(288, 0);
    expect(at(0, 'LBL-3').y - at(0, 'LBL-1').y).toBeCloseTo(144, 0);
    expect(at(0, 'LBL-3').x).toBeCloseTo(at(0, 'LBL-1').x, 0);
    // Label 1 at the sheet's start offsets (0.25 in, 0.5 in) plus the field's rect (35, 5).
    expect(at(0, 'LBL-1').x).toBeCloseTo((25 + 35) * 0.72, 0);
    expect(items[1]!.items.map((i) => i.str)).toEqual(expect.arrayContaining(['LBL-11', 'LBL-12']));
    expect(items[1]!.items.map((i) => i.str)).not.toContain('LBL-10');
    // Bars: filled rectangles; 12 characters per code (9 elements + gap) fill a page's content stream.
    expect(pdf.length).toBeGreaterThan(3000);
  });

  test('Image: an image from a uuencoded text column, stretched into its rect', async () => {
    const { pdf, pages } = await renderToBuffer(loadFixture('Image'), memoryData({ head: [{ image_name: 'logo', image_descrip: 'The company logo', image_data: LOGO_UU }] }));
    expect(pages).toBe(1);
    expect(imageCount(pdf)).toBe(1);
    const t = await pdfText(pdf);
    expectInOrder(t.pages[0]!, ['Image', 'Image Name:', 'logo', 'Image Description:', 'The company logo', 'Report Date:', 'Page:', '1']);
    // No row: nothing to draw, but the report still renders.
    const empty = await renderToBuffer(loadFixture('Image'), memoryData({ head: [] }));
    expect(imageCount(empty.pdf)).toBe(0);
  });

  test('builtin formats go through ReportData.formatBuiltin with the value to 6 decimals', async () => {
    const calls: Array<[string, number]> = [];
    const data = memoryData({ detail: agingRows() }, (tag, v) => {
      calls.push([tag, v]);
      return defaultBuiltinFormat(tag, v);
    });
    await renderToBuffer(loadFixture('ARAging'), data);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every(([tag]) => tag === 'qty')).toBe(true);
    expect(calls).toContainEqual(['qty', 300.25]);
  });
});
