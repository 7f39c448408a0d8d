import { MetaSqlSyntaxError } from './errors';

/**
 * The last step of binding: the filled-in text, with our placeholders still written as markers, is read the way
 * PostgreSQL will read it and
 * - split into statements at each `;` outside quotes, dollar quotes and comments (xTuple's FinancialReport runs
 *   one statement that fills a work table and a second one that reads it, in one query text);
 * - each marker becomes `$n`, numbered per statement, with the values that statement uses, in order;
 * - each comment becomes one space (OpenRPT's rule), and a marker inside one binds nothing;
 * - a `$1` of the source's own is refused: it would collide with our placeholders.
 * This runs on the bound text, not the template, so a stray quote in a branch that is not taken cannot
 * disturb it: that text is gone by now.
 */

/** A placeholder as bind writes it before numbering: NUL, the value's index, NUL. SQL text cannot hold NUL. */
export function marker(index: number): string {
  return `\u0000${index}\u0000`;
}

export interface BoundStatement {
  text: string;
  values: unknown[];
}

function isIdentChar(c: string | undefined): boolean {
  if (c === undefined) return false;
  return /[A-Za-z0-9_$]/.test(c) || c.charCodeAt(0) > 127;
}

const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/y;

export function splitStatements(text: string, values: readonly unknown[], queryName: string | null): BoundStatement[] {
  const out: BoundStatement[] = [];
  let cur: string[] = [];
  let start = 0; // start of the pending verbatim run
  const n = text.length;

  const flush = (end: number): void => {
    if (end > start) cur.push(text.slice(start, end));
  };
  const endStatement = (): void => {
    const numbering = new Map<number, number>();
    const used: unknown[] = [];
    const t = cur.join('').trim().replace(/\u0000(\d+)\u0000/g, (_, index: string) => {
      const k = Number(index);
      let at = numbering.get(k);
      if (at === undefined) {
        used.push(values[k]);
        at = used.length;
        numbering.set(k, at);
      }
      return `$${at}`;
    });
    if (t !== '') out.push({ text: t, values: used });
    cur = [];
  };

  let i = 0;
  while (i < n) {
    const c = text[i];
    const next = text[i + 1];
    if (c === "'" || c === '"') {
      // Quoted text (a marker inside stays a placeholder). An unclosed quote runs to the end, where PostgreSQL
      // will name the problem.
      let j = i + 1;
      while (j < n) {
        const d = text[j];
        if (d === '\\' && c === "'") j += 2;
        else if (d === c && text[j + 1] === c) j += 2;
        else if (d === c) break;
        else j++;
      }
      i = Math.min(n, j + 1);
    } else if (c === '-' && next === '-') {
      flush(i);
      let j = i + 2;
      while (j < n && text[j] !== '\n' && text[j] !== '\r') j++;
      cur.push(' ');
      i = j;
      start = i;
    } else if (c === '/' && next === '*') {
      flush(i);
      let depth = 1;
      let j = i + 2;
      while (depth > 0 && j < n) {
        if (text[j] === '/' && text[j + 1] === '*') {
          depth++;
          j += 2;
        } else if (text[j] === '*' && text[j + 1] === '/') {
          depth--;
          j += 2;
        } else j++;
      }
      cur.push(' ');
      i = j;
      start = i;
    } else if (c === '$' && !isIdentChar(text[i - 1])) {
      if (next !== undefined && next >= '0' && next <= '9') {
        let j = i + 1;
        while (text[j] !== undefined && text[j]! >= '0' && text[j]! <= '9') j++;
        const p = text.slice(i, j);
        throw new MetaSqlSyntaxError(queryName, 1 + (text.slice(0, i).match(/\n/g)?.length ?? 0), p,
          `the query has a placeholder of its own (${p}); parameters must come from <? value("name") ?>`);
      }
      DOLLAR_TAG.lastIndex = i;
      const m = DOLLAR_TAG.exec(text);
      if (m) {
        const close = text.indexOf(m[0], i + m[0].length);
        i = close < 0 ? n : close + m[0].length;
      } else i++;
    } else if (c === ';') {
      flush(i);
      endStatement();
      i++;
      start = i;
    } else i++;
  }
  flush(n);
  endStatement();
  return out;
}
