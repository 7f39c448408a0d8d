/**
 * Text in every script: OpenRPT faces onto embedded DejaVu subsets, an administrator's fonts for a face and
 * as fallbacks, and the page count on the same baseline as the page number. PDFs are read back with pdfjs and
 * compared character for character.
 */
import fs from 'node:fs';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { loadConfig } from '../../src/config';
import { memoryData, parseDefinition } from '../../src/reports/openrpt';
import { tempDir } from '../support/tempDirs';
import { checkFontFile, FontLibrary } from '../../src/reports/openrpt/fonts';
import { pdfTextItems } from '../support/pdfText';
import { renderToBuffer } from './fixtures-render/helpers';

const NAME = 'Zakład Łódź Ωmega Привет';
const LIBERATION = '/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf';
const MATH = path.join(path.dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf', 'DejaVuMathTeXGyre.ttf');

function field(x: number, y: number, face: string, extra = '', column = 'name', query = 'q'): string {
  return `<field><rect><x>${x}</x><y>${y}</y><width>400</width><height>20</height></rect>
    <font><face>${face}</face><size>10</size>${extra}</font><left/><top/><data><query>${query}</query><column>${column}</column></data></field>`;
}

const DEF = parseDefinition(`<report><name>Fonts</name><size>Letter</size><portrait/>
  <querysource><name>q</name><sql>SELECT 1</sql></querysource>
  <pghead><height>40</height>
    <label><rect><x>0</x><y>0</y><width>60</width><height>20</height></rect><font><face>Arial</face><size>10</size></font><left/><top/><string>Page:</string></label>
    ${field(60, 0, 'Arial', '', 'page_number', 'Context Query').replace('width>400', 'width>30')}
    <label><rect><x>90</x><y>0</y><width>20</width><height>20</height></rect><font><face>Arial</face><size>10</size></font><left/><top/><string>of</string></label>
    ${field(110, 0, 'Arial', '', 'page_count', 'Context Query').replace('width>400', 'width>30')}
  </pghead>
  <section><name>s</name><detail><key><query>q</query></key><height>200</height>
    ${field(0, 0, 'Arial')}
    ${field(0, 25, 'Arial', '<weight>bold</weight>')}
    ${field(0, 50, 'Times New Roman', '<italic/>')}
    ${field(0, 75, 'Courier New', '<weight>bold</weight><italic/>')}
    ${field(0, 100, 'Arial', '', 'georgian')}
    ${field(0, 125, 'Arial', '', 'math')}
  </detail></section></report>`, 'Fonts');

const ROWS = { q: [{ name: NAME, georgian: 'Tbilisi: თბილისი', math: 'Algebra ℊ ≠ ℵ' }] };

/**
 * Each line's text: items on one baseline joined, with a space where pdfjs split at one (it reads a
 * fixed-pitch font's words as separate items).
 */
function textLines(items: Array<{ str: string; y: number }>): string[] {
  const byY = new Map<number, string[]>();
  for (const i of items) byY.set(Math.round(i.y), [...(byY.get(Math.round(i.y)) ?? []), i.str]);
  return [...byY.values()].map((parts) => parts.join(' ').replace(/ {2,}/g, ' '));
}

/** Every /BaseFont of the PDF (subset fonts carry a six-letter tag: ABCDEF+DejaVuSans). */
function baseFonts(pdf: Buffer): string[] {
  const text = pdf.toString('latin1');
  const names = new Set<string>();
  for (const m of text.matchAll(/\/BaseFont \/([A-Z]{6}\+)?([A-Za-z0-9-]+)/g)) names.add(m[2]!);
  // Object streams are compressed; look inside them too.
  for (const m of text.matchAll(/stream\r?\n/g)) {
    try {
      const body = inflateSync(pdf.subarray(m.index + m[0].length));
      for (const n of body.toString('latin1').matchAll(/\/BaseFont \/([A-Z]{6}\+)?([A-Za-z0-9-]+)/g)) names.add(n[2]!);
    } catch {
      // not a deflated stream
    }
  }
  return [...names].sort();
}

describe('built-in DejaVu fonts', () => {
  it('prints Polish, Greek and Cyrillic in every face and style, extracted exactly as written', async () => {
    const { pdf } = await renderToBuffer(DEF, memoryData(ROWS));
    const lines = textLines((await pdfTextItems(pdf))[0]!.items);
    expect(lines.filter((s) => s === NAME)).toHaveLength(4);
    expect(lines).toContain('Tbilisi: თბილისი');
    expect(baseFonts(pdf)).toEqual(expect.arrayContaining(['DejaVuSans', 'DejaVuSans-Bold', 'DejaVuSerif-Italic', 'DejaVuSansMono-BoldOblique']));
    // Subsets: four fonts of 0.3-0.7 MB each make a PDF of a few tens of kB.
    expect(pdf.length).toBeLessThan(120_000);
  });

  it('draws a character no font of the chain has as the first font\'s missing glyph, and goes on', async () => {
    const { pdf } = await renderToBuffer(DEF, memoryData({ q: [{ name: 'a株b', georgian: '', math: '' }] }));
    const items = (await pdfTextItems(pdf))[0]!.items.map((i) => i.str).join('');
    expect(items).toContain('a');
    expect(items).toContain('b');
  });

  it('puts the page count on the baseline of the page number and of the labels beside them', async () => {
    const { pdf } = await renderToBuffer(DEF, memoryData(ROWS));
    const items = (await pdfTextItems(pdf))[0]!.items;
    const at = (s: string, x: number): number => items.find((i) => i.str === s && Math.abs(i.x - x) < 2)!.y;
    const baseline = at('Page:', 72); // the default 1 in margin
    expect(at('1', 72 + 60 * 0.72)).toBeCloseTo(baseline, 1);
    expect(at('of', 72 + 90 * 0.72)).toBeCloseTo(baseline, 1);
    expect(at('1', 72 + 110 * 0.72)).toBeCloseTo(baseline, 1);
  });
});

describe('an administrator\'s fonts (reports.fonts)', () => {
  const haveLiberation = fs.existsSync(LIBERATION);

  it('a font for a face replaces DejaVu for it; characters it lacks fall back through the chain', async () => {
    // Liberation Sans (fonts-liberation, installed with LibreOffice and on this test machine) has no Georgian
    // and no Fraktur: those come from DejaVu Sans and from the fallback font.
    expect(haveLiberation).toBe(true);
    const fonts = new FontLibrary([{ face: 'Arial', file: LIBERATION }, { face: null, file: MATH }]);
    const { pdf } = await renderToBuffer(DEF, memoryData(ROWS), { fonts });
    const lines = textLines((await pdfTextItems(pdf))[0]!.items);
    expect(lines).toContain(NAME);
    // One field, several fonts: Liberation for the Latin part, DejaVu Sans for Georgian, the fallback for ℊ.
    expect(lines).toContain('Tbilisi: თბილისი');
    expect(lines).toContain('Algebra ℊ ≠ ℵ');
    expect(baseFonts(pdf)).toEqual(expect.arrayContaining(['LiberationSans', 'DejaVuSans', 'DejaVuMathTeXGyre-Regular']));
  });

  it('checks a configured font file, naming the key', () => {
    expect(checkFontFile({ face: null, file: MATH }, 'reports.fonts[0]')).toBeNull();
    expect(checkFontFile({ face: null, file: 'fonts/x.ttf' }, 'reports.fonts[1]')).toBe('reports.fonts[1].file must be an absolute path (it is "fonts/x.ttf")');
    expect(checkFontFile({ face: 'Arial', file: '/nonexistent/x.ttf' }, 'reports.fonts[2]')).toBe('reports.fonts[2].file "/nonexistent/x.ttf" cannot be read');
    expect(checkFontFile({ face: 'Arial', file: __filename }, 'reports.fonts[3]')).toContain('is not a TrueType or OpenType font');
  });
});

describe('reports.fonts in the config file', () => {
  const configFile = (fonts: string): string => {
    const dir = tempDir('xtc-fonts-');
    const f = path.join(dir, 'xtconnect.yaml');
    fs.writeFileSync(f, `dataDir: ${dir}\ndatabase:\n  url: postgres://x@127.0.0.1/db\nreports:\n  fonts:\n${fonts}`);
    return f;
  };

  it('reads face and fallback entries', () => {
    const cfg = loadConfig({ config: configFile(`    - face: Arial\n      file: ${MATH}\n      bold: true\n    - file: ${MATH}\n`) }, {});
    expect(cfg.reports.fonts).toEqual([
      { face: 'Arial', file: MATH, name: undefined, bold: true, italic: undefined },
      { face: null, file: MATH, name: undefined, bold: undefined, italic: undefined },
    ]);
  });

  it('names every bad entry at once', () => {
    const f = configFile(`    - face: Arial\n      file: /nonexistent/arial.ttf\n    - face: Times\n`);
    expect(() => loadConfig({ config: f }, {})).toThrow(/2 mistakes:/);
    expect(() => loadConfig({ config: f }, {})).toThrow('reports.fonts[0].file "/nonexistent/arial.ttf" cannot be read');
    expect(() => loadConfig({ config: f }, {})).toThrow('reports.fonts[1].file is missing');
    expect(() => loadConfig({ config: configFile(`    - file: fonts/x.ttf\n`) }, {})).toThrow(/reports\.fonts\[0\]\.file must be an absolute path/);
  });
});
