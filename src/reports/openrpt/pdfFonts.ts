/**
 * The fonts of one PDF: each font file of a chain (fonts.ts) registered with pdfkit on first use, measured
 * with FontMetrics, and text split into runs, each drawn with the first font of the chain that has its
 * characters. pdfkit embeds every TrueType font as a subset of the glyphs used.
 */
import type { FontLibrary, FontSource } from './fonts';
import { FontMetrics, noFeatures, type TtfFont } from './metrics';
import type { FontSpec } from './model';

/** The pdfkit font object (internals, not in its typings). */
export interface PdfFont {
  id: string;
  font: TtfFont;
  ascender: number;
  descender: number;
  ref(): { data: Record<string, unknown> };
  encode(text: string, features?: unknown): [string[], unknown[]];
  widthOfString(text: string, size: number, features?: unknown): number;
  lineHeight(size: number, includeGap?: boolean): number;
}

interface Loaded {
  key: string;
  font: PdfFont;
  metrics: FontMetrics;
}

export interface TextRun {
  /** The name the font is registered under in the document (doc.font(key)). */
  key: string;
  font: PdfFont;
  text: string;
  /** Points. */
  width: number;
}

interface PdfDoc {
  registerFont(name: string, src: Buffer, family?: string): unknown;
  font(name: string): unknown;
}

export class PdfFonts {
  private readonly loaded = new Map<string, Loaded>();

  constructor(
    private readonly doc: PdfDoc,
    private readonly library: FontLibrary,
  ) {}

  private load(source: FontSource): Loaded {
    let l = this.loaded.get(source.key);
    if (!l) {
      const { bytes, name } = source.load();
      this.doc.registerFont(source.key, bytes, name);
      this.doc.font(source.key);
      const font = (this.doc as unknown as { _font: PdfFont })._font;
      directLayout(font);
      l = { key: source.key, font, metrics: new FontMetrics(font.font) };
      this.loaded.set(source.key, l);
    }
    return l;
  }

  /** The font that sets the line: its height, ascender and the page count's digits. */
  primary(spec: FontSpec): { key: string; font: PdfFont } {
    const l = this.load(this.library.chain(spec)[0]!);
    return { key: l.key, font: l.font };
  }

  /** `text` as runs of one font each; one run when the first font has every character (the usual case). */
  runs(spec: FontSpec, text: string): TextRun[] {
    const chain = this.library.chain(spec);
    const first = this.load(chain[0]!);
    let allCovered = true;
    for (let i = 0; i < text.length; i++) {
      const cp = text.codePointAt(i)!;
      if (cp > 0xffff) i++;
      if (!first.metrics.has(cp)) {
        allCovered = false;
        break;
      }
    }
    if (allCovered) return [{ key: first.key, font: first.font, text, width: first.metrics.width(text, spec.size) }];
    const runs: TextRun[] = [];
    let cur: Loaded | null = null;
    let start = 0;
    const close = (end: number): void => {
      if (cur && end > start) {
        const t = text.slice(start, end);
        runs.push({ key: cur.key, font: cur.font, text: t, width: cur.metrics.width(t, spec.size) });
      }
    };
    for (let i = 0; i < text.length; ) {
      const cp = text.codePointAt(i)!;
      const len = cp > 0xffff ? 2 : 1;
      let pick = first;
      if (!first.metrics.has(cp)) {
        for (const s of chain.slice(1)) {
          const l = this.load(s);
          if (l.metrics.has(cp)) {
            pick = l;
            break;
          }
        }
      }
      if (pick !== cur) {
        close(i);
        cur = pick;
        start = i;
      }
      i += len;
    }
    close(text.length);
    return runs;
  }

  /** Width of `text` in points, as drawn. */
  width(spec: FontSpec, text: string): number {
    let w = 0;
    for (const r of this.runs(spec, text)) w += r.width;
    return w;
  }
}

export { noFeatures };

interface Glyph {
  id: number;
  advanceWidth: number;
  codePoints: number[];
}

/**
 * Replaces pdfkit's layout of one font with a glyph per character at its advance: what the text would get with
 * every OpenType feature off (no kerning, no ligatures, which is how it is measured), without running fontkit's
 * shaper for every text item. Shaping was most of the cost of a page; a report's text needs no contextual forms
 * in the scripts DejaVu covers. pdfkit's encode() then subsets the glyphs and maps them back to the characters.
 */
function directLayout(pdfFont: PdfFont): void {
  const ttf = pdfFont.font as unknown as { unitsPerEm: number; glyphForCodePoint(cp: number): Glyph };
  const scale = 1000 / ttf.unitsPerEm;
  const glyphs = new Map<number, Glyph>();
  const target = pdfFont as unknown as { layout: (text: string) => unknown };
  target.layout = (text: string) => {
    const gs: Glyph[] = [];
    const positions: Array<Record<string, number>> = [];
    let advanceWidth = 0;
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      let g = glyphs.get(cp);
      if (g === undefined) {
        g = ttf.glyphForCodePoint(cp);
        glyphs.set(cp, g);
      }
      const adv = g.advanceWidth * scale;
      gs.push(g);
      positions.push({ xAdvance: adv, yAdvance: 0, xOffset: 0, yOffset: 0, advanceWidth: adv });
      advanceWidth += adv;
    }
    return { glyphs: gs, positions, advanceWidth };
  };
}
