/**
 * The layout engine on a definition made to exercise it (fixtures-render/engine.xml): header and footer
 * variants, page_count, page and group subtotals, text areas split over pages, re-running a query, formats,
 * inline images and barcodes; and the engine's promises: same bytes twice, memory flat as rows grow, streams
 * always closed.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { inflateSync } from 'node:zlib';
import { memoryData, parseDefinition, renderPdf, type ReportData, type Row, type RowStream } from '../../src/reports/openrpt';
import { uuencode } from '../../src/reports/openrpt/images';
import { pdfText, pdfTextItems } from '../support/pdfText';
import { expectInOrder, imageCount, localXml, makePng, MemorySink, renderToBuffer } from './fixtures-render/helpers';

const xmlEscape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const engineDef = (): ReturnType<typeof parseDefinition> =>
  parseDefinition(localXml('engine').replace('@INLINE_PNG@', xmlEscape(uuencode(makePng(30, 15, [0, 128, 255])))));

interface Line extends Row {
  grp: string;
  name: string;
  amount: number | null;
  memo: string;
}

function lines(groups: Record<string, number>, memoFor: (name: string) => string = () => ''): Line[] {
  const out: Line[] = [];
  let n = 0;
  for (const [grp, count] of Object.entries(groups)) {
    for (let i = 0; i < count; i++) {
      n++;
      const name = `${grp}-item-${String(i).padStart(2, '0')}`;
      out.push({ grp, name, amount: n % 7 === 0 ? null : n * 1.25, memo: memoFor(name), name_qtforegroundrole: name === 'A-item-03' ? 'red' : null });
    }
  }
  return out;
}

const NOTE = 'This note is long enough to wrap over several lines of its field box';
const PARAMS = new Map<string, unknown>([['customer', 'ACME'], ['asOf', new Date(2026, 10, 1)], ['list', [1, 2]], ['note', NOTE]]);

/** All content streams of a PDF, inflated: what the pages actually draw. */
function contentOf(pdf: Buffer): string {
  const s = pdf.toString('latin1');
  let out = '';
  const re = /(?<!end)stream\r?\n/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    const start = m.index + m[0].length;
    const end = s.indexOf('endstream', start);
    if (end < 0) break;
    try {
      out += inflateSync(Buffer.from(s.slice(start, end), 'latin1')).toString('latin1') + '\n';
    } catch {
      // not a deflated stream (an image's alpha, say)
    }
    re.lastIndex = end + 'endstream'.length;
  }
  return out;
}

const amountsOf = (page: string[]): number[] =>
  page.filter((s) => /^\d{4}\.\d{3}$/.test(s)).map(Number); // the detail's %08.3f amounts

describe('layout engine', () => {
  const rows = lines({ A: 30, B: 25, C: 40 });
  let pdf: Buffer;
  let pages: number;
  let text: string[][];
  beforeAll(async () => {
    ({ pdf, pages } = await renderToBuffer(engineDef(), memoryData({ lines: rows, head: [{ code: 'HX-42' }] }), { parameters: PARAMS }));
    text = (await pdfText(pdf)).pages;
  });

  test('page headers: firstpage on page 1, then even and odd; a lastpage header is never used', () => {
    expect(pages).toBe(text.length);
    expect(pages).toBeGreaterThanOrEqual(5);
    text.forEach((page, i) => {
      const want = i === 0 ? 'FIRST HEADER' : (i + 1) % 2 === 0 ? 'EVEN HEADER' : 'ODD HEADER';
      expect(page[0]).toBe(want);
      for (const other of ['FIRST HEADER', 'EVEN HEADER', 'ODD HEADER', 'LAST HEADER'].filter((h) => h !== want)) expect(page).not.toContain(other);
    });
  });

  test('page footers: firstpage on page 1, lastpage on the last, "any" between with "Page n of N"', () => {
    text.forEach((page, i) => {
      const last = i === pages - 1;
      expect(page.includes('FIRST FOOTER')).toBe(i === 0);
      expect(page.includes('LAST FOOTER')).toBe(last);
      expect(page.includes('ANY FOOTER')).toBe(i > 0 && !last);
      if (i > 0 && !last) expectInOrder(page, ['ANY FOOTER', 'Page', String(i + 1), 'of', String(pages)]);
    });
    // The lastpage footer's label that reads exactly "page_count" is patched too.
    expectInOrder(text[pages - 1]!, ['LAST FOOTER', String(pages)]);
    expect(text.flat()).not.toContain('page_count');
  });

  test('report head: context and parameter values, an unknown query prints nothing', () => {
    // Reading order is by baseline: the 14 pt title's baseline lies below the 8 pt report name's.
    // Parameter "1" is the first parameter (customer); the unknown query's field adds no text of its own.
    const head = text[0]!.slice(0, text[0]!.indexOf('Group A'));
    expect(head).toEqual(['FIRST HEADER', 'EngineTest', 'Engine Test', 'Every feature the layout engine has', 'ACME', 'ACME', 'HX-42']);
  });

  test('groups: a head per group, a foot with the group subtotal, details in order with their formats', () => {
    const all = text.flat();
    for (const grp of ['A', 'B', 'C']) {
      const mine = rows.filter((r) => r.grp === grp);
      expectInOrder(all, [`Group ${grp}`, ...mine.map((r) => r.name), `sum ${mine.reduce((s, r) => s + (r.amount ?? 0), 0).toFixed(2)}`]);
    }
    // printf with a double, NULL printing as 0 under a numeric format; the builtin money format.
    expectInOrder(all, ['A-item-00', '0001.250', '1.25', 'A-item-06', '0000.000', '0.00']);
  });

  test('page footer subtotals are the sums of the rows printed on each page', () => {
    let checked = 0;
    for (let i = 0; i < pages - 1; i++) {
      const page = text[i]!;
      const footer = page.indexOf(i === 0 ? 'FIRST FOOTER' : 'ANY FOOTER');
      const printed = amountsOf(page).reduce((s, v) => s + v, 0);
      const subtotal = Number(page[footer + 1]);
      // On the page where the "again" section re-runs the query, the running sum restarts: skip that page.
      if (page.includes('again')) continue;
      expect(subtotal).toBeCloseTo(printed, 2);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(2);
  });

  test('a detail section re-runs its query from the first row; pagebreak at end; grand total in the report footer', () => {
    const all = text.flat();
    const start = all.indexOf('again');
    expect(start).toBeGreaterThan(all.indexOf('C-item-39'));
    expectInOrder(all.slice(start), ['again', 'A-item-00', 'again', 'A-item-01', 'again', 'C-item-39']);
    // "at end" broke the page: the report footer is alone on the last page.
    const last = text[pages - 1]!;
    expect(last).not.toContain('again');
    const total = rows.reduce((s, r) => s + (r.amount ?? 0), 0);
    expectInOrder(last, ['ODD HEADER', 'GRAND TOTAL', total.toFixed(2), 'LAST FOOTER'].filter((s) => pages % 2 === 1 || s !== 'ODD HEADER'));
  });

  test('the even header shows the last printed row: the query steps back before the break', () => {
    let checked = 0;
    for (let i = 1; i < pages - 1; i += 2) {
      const prev = text[i - 1]!;
      if (prev.includes('again')) continue;
      const lastName = [...prev].reverse().find((s) => /^[ABC]-item-\d\d$/.test(s))!;
      expect(text[i]![1]).toBe(lastName);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(1);
  });

  test('inline PNG in a <map>, a filled rect beneath it, Code 128 bars', () => {
    expect(imageCount(pdf)).toBe(1);
    const content = contentOf(pdf);
    // The rect's fill colour #eeeeee, then its outline in #333333; the image, listed before the rect, is
    // painted after it (rects and images paint in reverse document order), so it stays visible.
    const fill = content.search(/0\.933\d* 0\.933\d* 0\.933\d* scn/);
    expect(fill).toBeGreaterThan(-1);
    expect(content).toMatch(/0\.2\d* 0\.2\d* 0\.2\d* SCN/);
    expect(content.indexOf('/I1 Do')).toBeGreaterThan(fill);
    // Code 128 of "HX-42": (start + 5 + check) x 3 bars + stop's 4 = 25 filled bars, drawn as one path.
    const barsPath = content.split('\n').filter((l) => / re$/.test(l));
    expect(barsPath.length).toBeGreaterThanOrEqual(25);
  });
});

describe('fields', () => {
  test('a <wordwrap/> field wraps inside its box; <column>_qtforegroundrole colours one row', async () => {
    const { pdf } = await renderToBuffer(engineDef(), memoryData({ lines: lines({ A: 5 }), head: [] }), { parameters: PARAMS });
    const items = (await pdfTextItems(pdf)).flatMap((p) => p.items);
    // The note's field sits at x = 50 + 450 (1/100 in) = 360 pt.
    const noteItems = items.filter((i) => Math.abs(i.x - 360) < 1 && NOTE.includes(i.str));
    expect(noteItems.length).toBeGreaterThanOrEqual(3);
    expect(new Set(noteItems.map((i) => i.y)).size).toBe(noteItems.length);
    expect(noteItems.map((i) => i.str).join(' ')).toBe(NOTE);
    // Red fill appears for A-item-03's name only: once per section that shows it (lines, again).
    const content = contentOf(pdf);
    const reds = [...content.matchAll(/\b1 0 0 scn/g)];
    expect(reds).toHaveLength(2);
    // The text drawn in red: glyph ids of the embedded font (4 hex digits each), the same nine glyphs both times,
    // which are A-item-03's (it is shown twice, as pdfjs reads it).
    const redTexts = reds.map((r) => content.slice(r.index).match(/\[<([0-9a-f]+)>/)![1]!);
    expect(redTexts[0]).toHaveLength('A-item-03'.length * 4);
    expect(redTexts[1]).toBe(redTexts[0]);
    expect(items.filter((i) => i.str === 'A-item-03')).toHaveLength(2);
  });
});

describe('text areas', () => {
  test('a memo longer than the page continues on the next page below the header', async () => {
    const long = Array.from({ length: 80 }, (_, i) => `memo line ${i + 1}`).join('\n');
    const rows = lines({ A: 3 }, (name) => (name === 'A-item-01' ? long : 'short memo'));
    const { pdf, pages } = await renderToBuffer(engineDef(), memoryData({ lines: rows, head: [] }));
    const t = (await pdfText(pdf)).pages;
    expect(pages).toBeGreaterThanOrEqual(3);
    expectInOrder(t[0]!, ['A-item-00', 'short memo', 'A-item-01', 'memo line 1', 'memo line 2']);
    const firstOn2 = t[1]!.find((s) => s.startsWith('memo line'))!;
    const n = Number(firstOn2.split(' ')[2]);
    expect(n).toBeGreaterThan(2);
    expect(t[0]).toContain(`memo line ${n - 1}`);
    expect(t[0]).not.toContain(firstOn2);
    // Page 2 begins with its header, then the memo continues; the next row follows the memo's end.
    expectInOrder(t[1]!, ['EVEN HEADER', firstOn2]);
    expectInOrder(t.flat(), ['memo line 80', 'A-item-02', 'short memo']);
  });

  test('wrapping at word boundaries inside the rect width', async () => {
    const words = Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ');
    const { pdf } = await renderToBuffer(engineDef(), memoryData({ lines: lines({ A: 1 }, () => words), head: [] }));
    const page = (await pdfText(pdf)).pages[0]!;
    const memoLines = page.filter((s) => s.startsWith('w'));
    expect(memoLines.length).toBeGreaterThan(2);
    expect(memoLines.join(' ').split(' ')).toEqual(words.split(' '));
  });
});

describe('output', () => {
  test('the same definition and rows give the same bytes; CreationDate fixed; the title set', async () => {
    const data = (): ReportData => memoryData({ lines: lines({ A: 20, B: 20 }), head: [{ code: 'X1' }] });
    const a = await renderToBuffer(engineDef(), data(), { parameters: PARAMS });
    const b = await renderToBuffer(engineDef(), data(), { parameters: PARAMS });
    expect(a.pdf.equals(b.pdf)).toBe(true);
    const s = a.pdf.toString('latin1');
    expect(s).toContain('(D:20000101000000Z)');
    expect(s).toMatch(/\/Title \d+ 0 R/);
    expect(s).toContain('(Engine Test)');
    const c = await renderToBuffer(engineDef(), data(), { parameters: PARAMS, creationDate: new Date('2030-05-06T07:08:09Z') });
    expect(c.pdf.equals(a.pdf)).toBe(false);
    expect(c.pdf.toString('latin1')).toContain('(D:20300506070809Z)');
  });

  test('the output stream is ended when the PDF is complete', async () => {
    const sink = new MemorySink();
    await renderPdf(engineDef(), memoryData({ lines: lines({ A: 2 }), head: [] }), sink);
    expect(sink.writableFinished).toBe(true);
    expect(sink.buffer.subarray(0, 5).toString()).toBe('%PDF-');
    expect(sink.buffer.toString('latin1').trimEnd().endsWith('%%EOF')).toBe(true);
  });
});

/** Rows made on demand, counting open streams; nothing is kept once handed out. */
class GeneratedData implements ReportData {
  openStreams = 0;
  opened = 0;
  constructor(
    private readonly count: number,
    private readonly failAt = -1,
    private readonly onRow?: (i: number) => void,
  ) {}

  async open(name: string): Promise<RowStream | null> {
    if (name !== 'lines') return null;
    this.openStreams++;
    this.opened++;
    let i = 0;
    let closed = false;
    return {
      next: async () => {
        if (i === this.failAt) throw new Error(`row ${i} failed`);
        if (i >= this.count) return null;
        this.onRow?.(i);
        const n = i++;
        // ~300 bytes of unique text per row in a column nothing prints: keeping rows alive would show in the heap.
        return { grp: `G${Math.floor(n / 50)}`, name: `row-${n}`, amount: n % 13, memo: `memo ${n}`, ballast: String(n).padStart(6, '0').repeat(50) };
      },
      close: async () => {
        if (!closed) this.openStreams--;
        closed = true;
      },
    };
  }

  formatBuiltin(tag: string, v: number): string {
    return `${tag}:${v.toFixed(2)}`;
  }
}

const makeData = (count: number, failAt = -1, onRow?: (i: number) => void): GeneratedData => new GeneratedData(count, failAt, onRow);

describe('streaming', () => {
  test('every stream the renderer opens is closed, also when a row fails', async () => {
    const ok = makeData(200);
    await renderPdf(engineDef(), ok, new MemorySink(false));
    expect(ok.opened).toBe(2); // opened at the start, re-run for the second section
    expect(ok.openStreams).toBe(0);
    const failing = makeData(200, 120);
    await expect(renderPdf(engineDef(), failing, new MemorySink(false))).rejects.toThrow('row 120 failed');
    expect(failing.opened).toBe(1);
    expect(failing.openStreams).toBe(0);
  });

  test('memory stays flat: 20,000 rows use about the heap of 1,000', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const measure = async (count: number): Promise<{ growth: number; pages: number }> => {
      gc();
      const base = process.memoryUsage().heapUsed;
      let peak = 0;
      // Sample the live heap (after a full GC) at ten points through the report.
      const every = Math.floor(count / 10);
      const data = makeData(count, -1, (i) => {
        if (i > 0 && i % every === 0) {
          gc();
          peak = Math.max(peak, process.memoryUsage().heapUsed - base);
        }
      });
      const sink = new MemorySink(false);
      const { pages } = await renderPdf(engineDef(), data, sink);
      expect(data.openStreams).toBe(0);
      return { growth: peak, pages };
    };
    await measure(1000); // warm up fonts and code paths
    const small = await measure(1000);
    const large = await measure(20000);
    expect(large.pages).toBeGreaterThan(small.pages * 15);
    // Holding the rows (20,000 x ~0.5 KB) or every page's draw operations would add well over 10 MB.
    expect(large.growth).toBeLessThan(small.growth + 6 * 1024 * 1024);
    // eslint-disable-next-line no-console
    console.log(`heap growth: 1,000 rows ${(small.growth / 1048576).toFixed(1)} MB (${small.pages} pages); 20,000 rows ${(large.growth / 1048576).toFixed(1)} MB (${large.pages} pages)`);
  }, 120000);
});
