/**
 * Fast text widths for the standard PDF fonts. pdfkit measures by building glyph-name strings and kern-pair
 * keys for every character; text areas measure many prefixes while wrapping, so that dominated rendering.
 * This reads the same AFM data once into per-character tables. Results equal pdfkit's widthOfString, which is
 * what it then draws with (kerning included).
 */

/** The AFM object inside a pdfkit StandardFont (pdfkit internals, not in its typings). */
export interface AfmFont {
  characterToGlyph(code: number): string;
  widthOfGlyph(glyph: string): number;
  kernPairs: Record<string, number>;
}

export class FontMetrics {
  /** Width in 1/1000 em by character code; NaN = not looked up yet. */
  private readonly widths = new Float64Array(65536).fill(Number.NaN);
  private readonly glyphs = new Map<number, string>();
  /** Kerning by (left code << 16 | right code), for pairs of characters below 256. */
  private readonly kern = new Map<number, number>();

  constructor(private readonly afm: AfmFont) {
    const codesOf = new Map<string, number[]>();
    for (let c = 32; c < 256; c++) {
      const g = afm.characterToGlyph(c);
      const list = codesOf.get(g);
      if (list) list.push(c);
      else codesOf.set(g, [c]);
    }
    for (const [pair, amount] of Object.entries(afm.kernPairs)) {
      const sep = pair.indexOf('\u0000');
      const lefts = codesOf.get(pair.slice(0, sep));
      const rights = codesOf.get(pair.slice(sep + 1));
      if (!lefts || !rights) continue;
      for (const l of lefts) for (const r of rights) this.kern.set(l * 65536 + r, amount);
    }
  }

  private glyph(code: number): string {
    let g = this.glyphs.get(code);
    if (g === undefined) {
      g = this.afm.characterToGlyph(code);
      this.glyphs.set(code, g);
    }
    return g;
  }

  private widthOfCode(code: number): number {
    let w = this.widths[code]!;
    if (Number.isNaN(w)) {
      w = this.afm.widthOfGlyph(this.glyph(code));
      this.widths[code] = w;
    }
    return w;
  }

  private kerning(left: number, right: number): number {
    if (left < 256 && right < 256) return this.kern.get(left * 65536 + right) ?? 0;
    return this.afm.kernPairs[`${this.glyph(left)}\u0000${this.glyph(right)}`] ?? 0;
  }

  /** Width of `text` at `size` points, in points. */
  width(text: string, size: number): number {
    let total = 0;
    let prev = -1;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      total += this.widthOfCode(c);
      if (prev >= 0) total += this.kerning(prev, c);
      prev = c;
    }
    return (total * size) / 1000;
  }
}
