import { MetaSqlSyntaxError } from './errors';

/**
 * Splits SQL source into spans the template layer treats differently:
 * - `code`: plain SQL, copied as-is;
 * - `quoted`: '…' or "…" (a backslash escapes the next character, as in OpenRPT; '' and "" are doubled quotes),
 *   copied as-is and never searched for tags: E'…' needs nothing more, its E is code;
 * - `dollarQuoted`: $$…$$ or $tag$…$tag$, copied as-is;
 * - `comment`: `--` to the end of the line, or a (nested) block comment; each becomes one space;
 * - `tag`: `<? … ?>` (MetaSQL only);
 * - `legacyName`: `$"name"` (legacy queries only).
 * A `$1` of the source's own is refused: our placeholders would collide with it.
 */
export type SpanKind = 'code' | 'quoted' | 'dollarQuoted' | 'comment' | 'tag' | 'legacyName';

export interface Span {
  kind: SpanKind;
  /** Offsets in the source: [start, end). */
  start: number;
  end: number;
  /** 1-based line of `start`. */
  line: number;
}

export interface ScanOptions {
  queryName: string | null;
  /** Recognise `<? … ?>` tags. */
  tags: boolean;
  /** Recognise `$"name"`. */
  legacy: boolean;
}

const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/y;

/** A character that continues a PostgreSQL identifier, so a `$` after it is part of the name. */
export function isIdentChar(c: string | undefined): boolean {
  if (c === undefined) return false;
  return /[A-Za-z0-9_$]/.test(c) || c.charCodeAt(0) > 127;
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

export function scanSql(source: string, opts: ScanOptions): Span[] {
  const spans: Span[] = [];
  const n = source.length;
  let line = 1;
  let lineCountedTo = 0;
  const lineAt = (pos: number): number => {
    // Only ever asked for increasing positions, so counting stays linear over the whole source.
    for (let k = lineCountedTo; k < pos; k++) if (source.charCodeAt(k) === 10) line++;
    lineCountedTo = Math.max(lineCountedTo, pos);
    return line;
  };
  const fail = (pos: number, tag: string, problem: string): never => {
    throw new MetaSqlSyntaxError(opts.queryName, lineAt(pos), tag, problem);
  };

  let codeStart = 0;
  const push = (kind: SpanKind, start: number, end: number): void => {
    if (codeStart < start) spans.push({ kind: 'code', start: codeStart, end: start, line: lineAt(codeStart) });
    spans.push({ kind, start, end, line: lineAt(start) });
    codeStart = end;
  };

  let i = 0;
  while (i < n) {
    const c = source[i];
    const next = source[i + 1];
    if (c === "'" || c === '"') {
      let j = i + 1;
      for (;;) {
        if (j >= n) fail(i, c, `${c}quoted text${c} is never closed`);
        const d = source[j];
        if (d === '\\') j += 2;
        else if (d === c && source[j + 1] === c) j += 2;
        else if (d === c) break;
        else j++;
      }
      push('quoted', i, j + 1);
      i = j + 1;
    } else if (c === '-' && next === '-') {
      let j = i + 2;
      while (j < n && source[j] !== '\n' && source[j] !== '\r') j++;
      push('comment', i, j);
      i = j;
    } else if (c === '/' && next === '*') {
      let depth = 1;
      let j = i + 2;
      while (depth > 0) {
        if (j >= n) fail(i, '/*', 'a /* comment is never closed with */');
        if (source[j] === '/' && source[j + 1] === '*') {
          depth++;
          j += 2;
        } else if (source[j] === '*' && source[j + 1] === '/') {
          depth--;
          j += 2;
        } else j++;
      }
      push('comment', i, j);
      i = j;
    } else if (c === '<' && next === '?' && opts.tags) {
      const close = source.indexOf('?>', i + 2);
      if (close < 0) fail(i, source.slice(i, Math.min(n, i + 40)), 'a <? tag is never closed with ?>');
      push('tag', i, close + 2);
      i = close + 2;
    } else if (c === '$' && !isIdentChar(source[i - 1])) {
      if (isDigit(next)) {
        let j = i + 1;
        while (isDigit(source[j])) j++;
        const p = source.slice(i, j);
        fail(i, p, `the query has a placeholder of its own (${p}); parameters must come from <? value("name") ?>`);
      }
      if (opts.legacy && next === '"') {
        const close = source.indexOf('"', i + 2);
        if (close < 0) fail(i, '$"', 'a $"name" parameter is never closed');
        push('legacyName', i, close + 1);
        i = close + 1;
        continue;
      }
      DOLLAR_TAG.lastIndex = i;
      const m = DOLLAR_TAG.exec(source);
      if (m) {
        const close = source.indexOf(m[0], i + m[0].length);
        if (close < 0) fail(i, m[0], `dollar-quoted text opened with ${m[0]} is never closed`);
        push('dollarQuoted', i, close + m[0].length);
        i = close + m[0].length;
      } else i++;
    } else i++;
  }
  if (codeStart < n) spans.push({ kind: 'code', start: codeStart, end: n, line: lineAt(codeStart) });
  return spans;
}

/**
 * MetaSQL's own split: code and `<? … ?>` tags, with tags found wherever they stand, inside quotes and comments
 * too. That is how xTuple's MetaSQL found them (a regular expression over the whole text), and stock statements
 * depend on it: a stray quote in a branch that is not taken must not hide the tags after it. Quotes, comments
 * and statements are read later, in the bound text (statements.ts).
 */
export function splitTags(source: string, queryName: string | null): Span[] {
  const spans: Span[] = [];
  let line = 1;
  let counted = 0;
  const lineAt = (pos: number): number => {
    for (let k = counted; k < pos; k++) if (source.charCodeAt(k) === 10) line++;
    counted = Math.max(counted, pos);
    return line;
  };
  let at = 0;
  for (;;) {
    const open = source.indexOf('<?', at);
    if (open < 0) break;
    const close = source.indexOf('?>', open + 2);
    if (close < 0) {
      throw new MetaSqlSyntaxError(queryName, lineAt(open), source.slice(open, Math.min(source.length, open + 40)),
        'a <? tag is never closed with ?>');
    }
    if (open > at) spans.push({ kind: 'code', start: at, end: open, line: lineAt(at) });
    spans.push({ kind: 'tag', start: open, end: close + 2, line: lineAt(open) });
    at = close + 2;
  }
  if (at < source.length) spans.push({ kind: 'code', start: at, end: source.length, line: lineAt(at) });
  return spans;
}
