/**
 * OpenRPT's greedy line breaking for text areas (§3 "text", `renderSection` in orprerender.cpp): break at
 * whitespace and at "\n", a line holds words while its width stays under the limit; a word longer than a whole
 * line is split by characters.
 */
import type { FontSpec } from './model';
import type { Measurer } from './ops';

/** Text areas wrap 10 screen pixels (96 dpi) inside their rect: OpenRPT's CLIPMARGIN. */
export const TEXT_CLIP_MARGIN = 1000 / 96;

export function wrapText(m: Measurer, font: FontSpec, text: string, maxWidth: number): string[] {
  let rest = text.replace(/\r\n?/g, '\n');
  const lines: string[] = [];
  const ws = /\s/g;
  let pos = 0;
  // Each pass either consumes text or ends a line, so the loop is bounded by the text length.
  while (rest.length > 0) {
    ws.lastIndex = pos;
    const hit = ws.exec(rest);
    const idx = hit ? hit.index : rest.length;
    const sep = hit ? rest[idx] : '\n';
    const candidate = rest.slice(0, idx);
    if (m.width(font, candidate) < maxWidth || pos === 0) {
      if (pos === 0 && idx > 0 && m.width(font, candidate) >= maxWidth) {
        const cut = fitChars(m, font, candidate, maxWidth);
        lines.push(rest.slice(0, cut));
        rest = rest.slice(cut);
        continue;
      }
      pos = idx + 1;
      if (sep === '\n') {
        lines.push(candidate);
        rest = rest.slice(idx + 1);
        pos = 0;
      }
    } else {
      lines.push(rest.slice(0, pos - 1));
      rest = rest.slice(pos);
      pos = 0;
    }
  }
  return lines;
}

/** How many leading characters of a word fit in the width; at least one, so splitting always progresses. */
function fitChars(m: Measurer, font: FontSpec, word: string, maxWidth: number): number {
  let lo = 1;
  let hi = word.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (m.width(font, word.slice(0, mid)) < maxWidth) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
