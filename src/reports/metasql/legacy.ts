import { isIdentChar, scanSql } from './scan';
import { finish, type BoundQuery } from './bind';
import { Placeholders, type MetaParams, type MetaValue } from './values';

/**
 * Old OpenRPT reports (queries without `<?`) use `%N`, the Nth parameter (1-based, in order), and `$"name"`,
 * looked up lower-cased. OpenRPT pasted the value raw; we bind it as a placeholder instead, so a value can never
 * change the statement. Where a report had put the token inside quotes ('%1', or '%1%' for LIKE), the quotes
 * were meant to make the pasted value a string, so the string becomes the placeholder itself, or a
 * concatenation of its pieces: `'%1%'` -> `($1::text || '%')`. Tokens in "identifiers" are left alone; comments
 * become one space, so a token in one cannot leave an unused placeholder behind.
 */
const TOKEN_IN_STRING = /%(\d+)|\$"([^"]*)"/g;
const TOKEN_IN_CODE = /%(\d+)/g;

class LegacyParams {
  private readonly ordered: MetaValue[];
  constructor(private readonly params: MetaParams) {
    this.ordered = [...params.values()];
  }
  byIndex(n: number): MetaValue | undefined {
    return this.ordered[n - 1];
  }
  byName(name: string): MetaValue | undefined {
    const lower = name.toLowerCase();
    if (this.params.has(lower)) return this.params.get(lower);
    for (const [k, v] of this.params) if (k.toLowerCase() === lower) return v;
    return undefined;
  }
}

/** `%0` is not a parameter (they count from 1); it stays as written. */
function indexOf(digits: string): number | null {
  const n = Number(digits);
  return n >= 1 ? n : null;
}

type Piece = { literal: string } | { value: MetaValue | undefined };

/** The quoted string rewritten around its tokens, or null when it holds none. */
function rewriteString(quoted: string, prefix: string, lookup: LegacyParams, ph: Placeholders): string | null {
  const content = quoted.slice(1, -1);
  const pieces: Piece[] = [];
  let last = 0;
  for (const m of content.matchAll(TOKEN_IN_STRING)) {
    const n = m[1] !== undefined ? indexOf(m[1]) : null;
    if (m[1] !== undefined && n === null) continue;
    if (m.index > last) pieces.push({ literal: content.slice(last, m.index) });
    pieces.push({ value: n !== null ? lookup.byIndex(n) : lookup.byName(m[2]) });
    last = m.index + m[0].length;
  }
  if (pieces.length === 0) return null;
  if (last < content.length) pieces.push({ literal: content.slice(last) });
  const only = pieces[0];
  if (pieces.length === 1 && 'value' in only) return ph.addText(only.value);
  const sql = pieces.map((p) => ('literal' in p ? `${prefix}'${p.literal}'` : ph.addText(p.value, '::text')));
  return `(${sql.join(' || ')})`;
}

export function bindLegacy(sql: string, params: MetaParams, name: string | null = null): BoundQuery {
  const lookup = new LegacyParams(params);
  const ph = new Placeholders();
  const out: string[] = [];
  for (const span of scanSql(sql, { queryName: name, tags: false, legacy: true })) {
    const text = sql.slice(span.start, span.end);
    switch (span.kind) {
      case 'comment':
        out.push(' ');
        break;
      case 'legacyName':
        out.push(ph.add(lookup.byName(text.slice(2, -1))));
        break;
      case 'code':
        out.push(
          text.replace(TOKEN_IN_CODE, (all, digits: string) => {
            const n = indexOf(digits);
            return n === null ? all : ph.add(lookup.byIndex(n));
          }),
        );
        break;
      case 'quoted': {
        if (text[0] !== "'") {
          out.push(text);
          break;
        }
        // An E'…' string keeps its E on every piece it is split into.
        const before = sql[span.start - 1];
        const hasE = (before === 'E' || before === 'e') && !isIdentChar(sql[span.start - 2]);
        const rewritten = rewriteString(text, hasE ? before : '', lookup, ph);
        if (rewritten === null) out.push(text);
        else {
          // The E was the last character of the code before; it now sits on each piece instead.
          if (hasE) out[out.length - 1] = out[out.length - 1].slice(0, -1);
          out.push(rewritten);
        }
        break;
      }
      default:
        out.push(text);
    }
  }
  return finish(out.join(''), ph, name);
}
