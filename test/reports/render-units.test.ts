/**
 * The renderer's small parts on their own: printf and builtin formats, value text, uuencoding, barcodes,
 * text metrics and wrapping, and the query cursor's moves and totals.
 */
import PDFDocument from 'pdfkit';
import { memoryData, type Row } from '../../src/reports/openrpt';
import { CODE128, code128Values, code39Elements } from '../../src/reports/openrpt/barcodes';
import { QueryCursor } from '../../src/reports/openrpt/cursor';
import { DEFAULT_FONT, familyOf } from '../../src/reports/openrpt/definition';
import { defaultBuiltinFormat, numberOf, printf, valueText } from '../../src/reports/openrpt/format';
import { imageBytesOf, isEmbeddableImage, uudecode, uuencode } from '../../src/reports/openrpt/images';
import { FontLibrary } from '../../src/reports/openrpt/fonts';
import { FontMetrics, noFeatures, type TtfFont } from '../../src/reports/openrpt/metrics';
import type { FontSpec } from '../../src/reports/openrpt/model';
import { wrapText } from '../../src/reports/openrpt/textWrap';
import { makePng } from './fixtures-render/helpers';

describe('printf', () => {
  test.each([
    ['%.2f', 12.5, '12.50'],
    ['%8.3f', -3.14159, '  -3.142'],
    ['%-6d|', 42.9, '42    |'],
    ['%05d', -42, '-0042'],
    ['%+.1f', 2, '+2.0'],
    ['%x', 255, 'ff'],
    ['%#X', 255, '0XFF'],
    ['%e', 12345.678, '1.234568e+04'],
    ['%g', 0.0001234, '0.0001234'],
    ['%g', 123456789, '1.23457e+08'],
    ['%.3g', 2.5, '2.5'],
    ['%s items', 'five', 'five items'],
    ['%.3s', 'abcdef', 'abc'],
    ['100%% of %d', 7, '100% of 7'],
    ['%d and %d', 1, '1 and '],
    ['%.2f', 'n/a', '0.00'],
    ['%s', 1.5, '1.5'],
  ])('printf(%j, %j) = %j', (fmt, arg, want) => {
    expect(printf(fmt, arg)).toBe(want);
  });
});

describe('values and builtin formats', () => {
  test('values print as Qt prints them', () => {
    expect(valueText(12.5)).toBe('12.5');
    expect(valueText(null)).toBe('');
    expect(valueText(undefined)).toBe('');
    expect(valueText(true)).toBe('true');
    expect(valueText(12n)).toBe('12');
    expect(valueText(new Date(2026, 0, 5))).toBe('2026-01-05');
    expect(valueText(new Date(2026, 0, 5, 14, 3, 9))).toBe('2026-01-05T14:03:09');
    expect(valueText('  kept  ')).toBe('  kept  ');
  });

  test('numbers and numeric text convert; other text does not', () => {
    expect(numberOf('12.50')).toBe(12.5);
    expect(numberOf('-1e3')).toBe(-1000);
    expect(numberOf('12 apples')).toBeNull();
    expect(numberOf('')).toBeNull();
    expect(numberOf(null)).toBeNull();
  });

  test('default builtin formats: xTuple scales, groups and minus', () => {
    expect(defaultBuiltinFormat('money', 1234567.891)).toBe('1,234,567.89');
    expect(defaultBuiltinFormat('qty', -0.004)).toBe('0.00');
    expect(defaultBuiltinFormat('qty', -1234.5)).toBe('-1,234.50');
    expect(defaultBuiltinFormat('cost', 2.5)).toBe('2.5000');
    expect(defaultBuiltinFormat('qtyper', 1)).toBe('1.000000');
    expect(defaultBuiltinFormat('percent', 0.125)).toBe('12.50');
    expect(defaultBuiltinFormat('SalesPrice', 3)).toBe('3.0000');
    expect(defaultBuiltinFormat('unknown', 3)).toBe('3.00');
  });
});

describe('images', () => {
  test('uuencode and uudecode round-trip; a text without "begin" is not image data', () => {
    const png = makePng(7, 5, [1, 2, 3]);
    const text = uuencode(png);
    expect(text.startsWith('begin 644 image.png\n')).toBe(true);
    expect(uudecode(text)!.equals(png)).toBe(true);
    expect(uudecode(text.replace(/\n/g, '\r\n'))!.equals(png)).toBe(true);
    expect(uudecode('/var/images/logo.png')).toBeNull();
    expect(isEmbeddableImage(png)).toBe(true);
    expect(isEmbeddableImage(Buffer.from('GIF89a.....'))).toBe(false);
  });

  test('row values: bytea raw, text uudecoded, a file path never opened', () => {
    const png = makePng(2, 2, [9, 9, 9]);
    expect(imageBytesOf(png)).toBe(png);
    expect(imageBytesOf(uuencode(png))!.equals(png)).toBe(true);
    expect(imageBytesOf('/etc/passwd')).toBeNull();
    expect(imageBytesOf(null)).toBeNull();
  });

  test('uudecode agrees with a classic encoder on a known line', () => {
    // "Cat" uuencodes to "#0V%T" (length char "#" = 3).
    expect(uudecode('begin 644 cat.txt\n#0V%T\n`\nend\n')!.toString()).toBe('Cat');
  });
});

describe('barcodes', () => {
  test('the Code 128 table: 103 distinct 11-module symbols, 3 start codes, a 13-module stop', () => {
    expect(CODE128).toHaveLength(107);
    const modules = (w: string): number => [...w].reduce((s, c) => s + Number(c), 0);
    for (const w of CODE128.slice(0, 106)) expect(modules(w)).toBe(11);
    expect(modules(CODE128[106]!)).toBe(13);
    expect(new Set(CODE128).size).toBe(107);
  });

  test('Code 128 values: set B for text, set C for even digit strings, with the mod-103 check', () => {
    // "PJJ123C" in set B: 104 + 48·1 + 42·2 + 42·3 + 17·4 + 18·5 + 19·6 + 35·7 = 879, and 879 mod 103 = 55.
    expect(code128Values('PJJ123C')).toEqual([104, 48, 42, 42, 17, 18, 19, 35, 55, 106]);
    expect(code128Values('1234')).toEqual([105, 12, 34, (105 + 12 * 1 + 34 * 2) % 103, 106]);
  });

  test('Code 39: start and stop stars, three wide elements in nine, unknown characters left out', () => {
    const els = code39Elements('ab-1#');
    expect(els).toHaveLength(6); // * A B - 1 *
    for (const e of els) expect([...e].filter((c) => c === '1')).toHaveLength(3);
    expect(els[0]).toBe(els[5]);
  });
});

describe('text metrics and wrapping', () => {
  const doc = new PDFDocument({ autoFirstPage: false });
  const lib = new FontLibrary();
  const metricsOf = (spec: FontSpec): FontMetrics => {
    const source = lib.chain(spec)[0]!;
    doc.registerFont(source.key, source.load().bytes);
    doc.font(source.key);
    return new FontMetrics((doc as unknown as { _font: { font: TtfFont } })._font.font);
  };
  const spec = (face: string, bold = false, italic = false): FontSpec =>
    ({ face, family: familyOf(face), bold, italic, size: 11, builtIn: '' });

  test.each([['Arial', false, false], ['Arial', true, false], ['Times New Roman', false, true], ['Courier New', true, true]] as Array<[string, boolean, boolean]>)(
    '%s (bold %s, italic %s) widths equal pdfkit widthOfString with kerning and ligatures off',
    (face, bold, italic) => {
      const m = metricsOf(spec(face, bold, italic));
      for (const s of ['AVATAR Today', 'To, Yes. We\'ll office', 'plain text 0123456789', 'Ärger – 5 € «x» Zakład Łódź Ωmega Привет', '']) {
        doc.fontSize(11);
        expect(m.width(s, 11)).toBeCloseTo(doc.widthOfString(s, { features: noFeatures() as never }), 6);
      }
    },
  );

  test('a face maps onto DejaVu by family and style; an administrator\'s font for a face comes first, fallbacks after', () => {
    expect(lib.chain(spec('Times New Roman', true, true)).map((s) => s.key)).toEqual(['DejaVuSerif-BoldItalic', 'DejaVuSans-BoldOblique']);
    expect(lib.chain(spec('')).map((s) => s.key)).toEqual(['DejaVuSans']);
    const admin = new FontLibrary([
      { face: 'Arial', file: '/fonts/arial.ttf' },
      { face: 'Arial', file: '/fonts/arial-bold.ttf', bold: true },
      { face: null, file: '/fonts/cjk.ttc', name: 'NotoSansCJKjp-Regular' },
    ]);
    expect(admin.chain(spec('Helvetica, Arial')).map((s) => s.key)).toEqual([
      'file:/fonts/arial.ttf', 'DejaVuSans', 'file:/fonts/cjk.ttc#NotoSansCJKjp-Regular',
    ]);
    expect(admin.chain(spec('arial', true)).map((s) => s.key)[0]).toBe('file:/fonts/arial.ttf');
    expect(admin.chain(spec('Courier')).map((s) => s.key)).toEqual(['DejaVuSansMono', 'file:/fonts/cjk.ttc#NotoSansCJKjp-Regular', 'DejaVuSans']);
  });

  test('greedy wrap at spaces and newlines; a word longer than the line is split', () => {
    const font: FontSpec = DEFAULT_FONT;
    const m = metricsOf(font);
    const measurer = { width: (f: FontSpec, t: string): number => m.width(t, f.size) / 0.72 };
    const one = measurer.width(font, 'word');
    const lines = wrapText(measurer, font, 'word word word\nnext', one * 2.6);
    expect(lines).toEqual(['word word', 'word', 'next']);
    const long = wrapText(measurer, font, 'x'.repeat(50), one);
    expect(long.join('')).toBe('x'.repeat(50));
    for (const l of long) expect(measurer.width(font, l)).toBeLessThan(one);
    expect(wrapText(measurer, font, 'a\n\nb', 1000)).toEqual(['a', '', 'b']);
  });

  test('font faces', () => {
    expect(familyOf('Open Sans,Helvetica,Verdana,sans-serif')).toBe('Helvetica');
    expect(familyOf('Times New Roman')).toBe('Times');
    expect(familyOf('DejaVu Sans Mono')).toBe('Courier');
    expect(familyOf('Wingdings')).toBe('Helvetica');
  });
});

describe('QueryCursor', () => {
  const rows: Row[] = [{ v: 1 }, { v: '2.5' }, { v: null }, { v: 4 }];
  const cursor = async (): Promise<QueryCursor> => {
    const data = memoryData({ q: rows });
    const c = new QueryCursor('q', () => data.open('q'), ['v']);
    await c.open();
    return c;
  };

  test('sits on the first row; totals run from the first row to the current one, NULL as 0', async () => {
    const c = await cursor();
    expect(c.value('v')).toBe(1);
    expect(c.total('v')).toBe(1);
    expect(await c.next()).toBe(true);
    expect(c.total('v')).toBe(3.5);
    expect(await c.next()).toBe(true);
    expect(c.total('v')).toBe(3.5);
    expect(c.isLastRow()).toBe(false);
    expect(await c.next()).toBe(true);
    expect(c.isLastRow()).toBe(true);
    expect(c.total('v')).toBe(7.5);
  });

  test('one step back and forward again; past the end and back onto the last row', async () => {
    const c = await cursor();
    await c.next();
    await c.next();
    expect(c.previous()).toBe(true);
    expect(c.value('v')).toBe('2.5');
    expect(c.total('v')).toBe(3.5);
    // Only one step is remembered.
    expect(c.previous()).toBe(false);
    expect(c.value('v')).toBe('2.5');
    expect(await c.next()).toBe(true);
    expect(c.value('v')).toBeNull();
    await c.next();
    expect(await c.next()).toBe(false);
    expect(c.row()).toBeNull();
    expect(c.previous()).toBe(true);
    expect(c.value('v')).toBe(4);
    expect(c.total('v')).toBe(7.5);
  });

  test('an empty query and a missing one', async () => {
    const data = memoryData({ empty: [] });
    const empty = new QueryCursor('empty', () => data.open('empty'), []);
    await empty.open();
    expect(empty.isEmpty).toBe(true);
    expect(await empty.next()).toBe(false);
    const missing = new QueryCursor('missing', () => data.open('missing'), []);
    await missing.open();
    expect(missing.isEmpty).toBe(true);
    expect(missing.value('x')).toBeUndefined();
  });
});
