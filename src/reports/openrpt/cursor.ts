/**
 * One query's position while the report renders, with Qt's QSqlQuery moves (next, one step back, past the
 * end) over a forward-only RowStream. It holds at most the previous row, the current row and two rows read
 * ahead, so memory does not grow with the result; the row ahead is what tells "this is the last row" (§5.4).
 */
import type { Row, RowStream } from './api';
import { numberOf } from './format';

export class QueryCursor {
  private stream: RowStream | null = null;
  private behind: Row | null = null;
  private cur: Row | null = null;
  private readonly ahead: Row[] = [];
  private exhausted = true;
  /** Index of the current row, 0-based; -1 when the query has no rows. */
  private pos = -1;
  private afterEnd = false;
  private readonly totals = new Map<string, number>();

  constructor(
    readonly name: string,
    private readonly openStream: () => Promise<RowStream | null>,
    /** Columns with a `<tracktotal>` somewhere in the report. */
    private readonly tracked: readonly string[],
  ) {}

  /** Runs the query and sits on its first row (Qt's first(): totals restart at that row). */
  async open(): Promise<void> {
    await this.close();
    this.stream = await this.openStream();
    this.exhausted = this.stream === null;
    this.behind = null;
    this.cur = null;
    this.ahead.length = 0;
    this.afterEnd = false;
    this.pos = -1;
    for (const c of this.tracked) this.totals.set(c, 0);
    await this.fill();
    const first = this.ahead.shift();
    if (first !== undefined) {
      this.cur = first;
      this.pos = 0;
      this.add(first, 1);
      await this.fill();
    }
  }

  async close(): Promise<void> {
    const s = this.stream;
    this.stream = null;
    this.exhausted = true;
    if (s) await s.close();
  }

  get isEmpty(): boolean {
    return this.cur === null;
  }

  /** True once a detail section (or a grid field) has moved the query off its first row. */
  get moved(): boolean {
    return this.pos > 0 || this.afterEnd;
  }

  get position(): number {
    return this.pos;
  }

  /** The current row; null before the first row, past the last one, or when the query has none. */
  row(): Row | null {
    return this.afterEnd ? null : this.cur;
  }

  value(column: string): unknown {
    const r = this.row();
    return r === null ? undefined : columnOf(r, column);
  }

  isLastRow(): boolean {
    return this.cur !== null && !this.afterEnd && this.ahead.length === 0 && this.exhausted;
  }

  /** Running sum of a tracked column from the first row to the current one, NULL counting 0 (§5.9). */
  total(column: string): number {
    return this.totals.get(column) ?? 0;
  }

  async next(): Promise<boolean> {
    if (this.cur === null || this.afterEnd) return false;
    await this.fill();
    const n = this.ahead.shift();
    if (n === undefined) {
      this.afterEnd = true;
      return false;
    }
    this.behind = this.cur;
    this.cur = n;
    this.pos++;
    this.add(n, 1);
    await this.fill();
    return true;
  }

  /**
   * One row back, as OpenRPT does before a page break so that the footer and the next header show the last
   * printed row. Only one step is remembered; a second consecutive step back returns false and moves nothing,
   * so callers step forward again only when this returned true.
   */
  previous(): boolean {
    if (this.cur === null) return false;
    if (this.afterEnd) {
      this.afterEnd = false;
      return true;
    }
    if (this.behind === null) return false;
    this.add(this.cur, -1);
    this.ahead.unshift(this.cur);
    this.cur = this.behind;
    this.behind = null;
    this.pos--;
    return true;
  }

  private add(row: Row, sign: 1 | -1): void {
    for (const c of this.tracked) this.totals.set(c, (this.totals.get(c) ?? 0) + sign * (numberOf(columnOf(row, c)) ?? 0));
  }

  private async fill(): Promise<void> {
    if (this.ahead.length > 0 || this.exhausted || this.stream === null) return;
    const r = await this.stream.next();
    if (r === null) this.exhausted = true;
    else this.ahead.push(r);
  }
}

/**
 * A column of a row by name. Qt's QSqlRecord finds a field whatever its case, and stock definitions rely on it:
 * `formatDate(...) AS asofDate` is column "asofdate" once PostgreSQL has folded it, and the field asks for
 * "asofDate". The exact name wins, then the folded one, then any spelling.
 */
export function columnOf(row: Row, column: string): unknown {
  if (column in row) return row[column];
  const lower = column.toLowerCase();
  if (lower in row) return row[lower];
  for (const k of Object.keys(row)) if (k.toLowerCase() === lower) return row[k];
  return undefined;
}
