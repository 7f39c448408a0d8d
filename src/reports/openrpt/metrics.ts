/**
 * Fast text widths for embedded TrueType fonts. Text areas measure many prefixes while wrapping, and pdfkit
 * measures by shaping the whole string each time; this keeps each character's advance in a table instead. Text
 * is drawn with kerning and ligatures off (noFeatures), so the drawn width is exactly the sum of advances, and
 * a PDF reader extracts the characters as they were written ("office" stays six letters, not "o" + "ffi" + …).
 */

/** The fontkit font inside a pdfkit EmbeddedFont (pdfkit internals, not in its typings). */
export interface TtfFont {
  unitsPerEm: number;
  glyphForCodePoint(cp: number): { advanceWidth: number };
  hasGlyphForCodePoint(cp: number): boolean;
}

/**
 * OpenType features pdfkit's layout is told to leave off, so measuring and drawing agree. A new object each
 * time: fontkit adds the features it applies to the object it is given.
 */
export function noFeatures(): Record<string, boolean> {
  return { kern: false, liga: false, clig: false, calt: false, dlig: false };
}

export class FontMetrics {
  /** Advance in em by code point below 65536; NaN = not looked up yet. */
  private readonly widths = new Float64Array(65536).fill(Number.NaN);
  /** 0 = not looked up, 1 = has a glyph, 2 = lacks it. */
  private readonly covered = new Uint8Array(65536);
  private readonly astral = new Map<number, number>();

  constructor(private readonly font: TtfFont) {}

  private advance(cp: number): number {
    if (cp < 65536) {
      let w = this.widths[cp]!;
      if (Number.isNaN(w)) {
        w = this.font.glyphForCodePoint(cp).advanceWidth / this.font.unitsPerEm;
        this.widths[cp] = w;
      }
      return w;
    }
    let w = this.astral.get(cp);
    if (w === undefined) {
      w = this.font.glyphForCodePoint(cp).advanceWidth / this.font.unitsPerEm;
      this.astral.set(cp, w);
    }
    return w;
  }

  /** Whether the font draws `cp` (else a fallback font is tried). */
  has(cp: number): boolean {
    if (cp >= 65536) return this.font.hasGlyphForCodePoint(cp);
    let c = this.covered[cp]!;
    if (c === 0) {
      // Control characters and spaces count as covered: every font can advance over them.
      c = cp < 32 || this.font.hasGlyphForCodePoint(cp) ? 1 : 2;
      this.covered[cp] = c;
    }
    return c === 1;
  }

  /** Width of `text` at `size` points, in points. */
  width(text: string, size: number): number {
    let total = 0;
    for (let i = 0; i < text.length; i++) {
      let cp = text.charCodeAt(i);
      if (cp >= 0xd800 && cp < 0xdc00 && i + 1 < text.length) {
        cp = text.codePointAt(i)!;
        i++;
      }
      total += this.advance(cp);
    }
    return total * size;
  }
}
