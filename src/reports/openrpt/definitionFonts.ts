/**
 * `<font>` of an element: face, size, weight and italic (openrpt-reference §1). The face picks a family
 * (sans, serif, fixed-pitch) and is kept as written, so fonts.ts can map it onto an administrator's font file.
 */
import type { Ctx } from './definitionContext';
import type { FontFamily, FontSpec } from './model';
import { dejavuName } from './fonts';
import { child, childText, has, type XNode } from './xmlTree';

const fontCache = new Map<string, FontSpec>();

function fontSpec(face: string, family: FontFamily, bold: boolean, italic: boolean, size: number): FontSpec {
  const key = `${face}|${family}|${bold}|${italic}|${size}`;
  let f = fontCache.get(key);
  if (!f) {
    f = Object.freeze({ face, family, bold, italic, size, builtIn: dejavuName(family, bold, italic) });
    fontCache.set(key, f);
  }
  return f;
}

/** Face names map onto a family (DejaVu Sans, Serif or Sans Mono); a comma-separated face is a fallback list, first known wins. */
export function familyOf(face: string): FontFamily {
  for (const raw of face.split(',')) {
    const f = raw.trim().toLowerCase();
    if (!f) continue;
    if (f.includes('courier') || f.includes('mono') || f === 'fixed') return 'Courier';
    if (f.includes('times') || f.includes('georgia') || f === 'serif' || (f.includes('serif') && !f.includes('sans'))) return 'Times';
    if (f.includes('arial') || f.includes('helvetica') || f.includes('sans') || f.includes('verdana') || f.includes('tahoma')) return 'Helvetica';
  }
  return 'Helvetica';
}

export function fontOf(ctx: Ctx, node: XNode, where: string): FontSpec {
  const f = child(node, 'font');
  if (!f) return DEFAULT_FONT;
  const face = childText(f, 'face') ?? '';
  const sizeText = childText(f, 'size') ?? '';
  // Whole points only; anything else is ignored (§1).
  const size = /^\d+$/.test(sizeText) && Number(sizeText) > 0 ? Number(sizeText) : DEFAULT_FONT.size;
  const wt = (childText(f, 'weight') ?? 'normal').toLowerCase();
  let weight = 50;
  if (wt === 'bold') weight = 75;
  else if (wt !== 'normal' && wt !== '') weight = ctx.num(child(f, 'weight'), `${where} <font>`, 50);
  return fontSpec(face, face ? familyOf(face) : DEFAULT_FONT.family, weight >= 63, has(f, 'italic'), size);
}

/** Qt's default application font is "Not determined" in the reference; 10 pt sans is what most setups show. */
export const DEFAULT_FONT: FontSpec = fontSpec('', 'Helvetica', false, false, 10);
