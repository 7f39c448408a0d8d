/** The renderer's contract with whoever supplies rows (the database side, or memory in tests). */
import type { FontLibrary } from './fonts';
import { defaultBuiltinFormat } from './format';

export type Row = Record<string, unknown>;

/** A stream of rows of one query. The renderer pulls; it never asks for all rows at once. */
export interface RowStream {
  next(): Promise<Row | null>;
  close(): Promise<void>;
}

export interface ReportData {
  /** Opens (runs) the named query from its first row; null when the definition has no such query (fields show ""). */
  open(queryName: string): Promise<RowStream | null>;
  /** Builtin formats (qty, money, ...): see openrpt-reference §3/§4. Sync, so no per-field round trip. */
  formatBuiltin(tag: string, value: number): string;
}

export interface RenderOptions {
  /** PDF CreationDate and ModDate; default 2000-01-01T00:00:00Z so the same input gives the same bytes. */
  creationDate?: Date;
  author?: string;
  /** For the Parameter Query, in order. */
  parameters?: ReadonlyMap<string, unknown>;
  /** The moment report_date and report_time show; default now. */
  now?: Date;
  /**
   * report_date / report_time as the database formats them (xTuple's formatDate(CURRENT_DATE) and
   * formatTime(CURRENT_TIMESTAMP) in the user's locale). Without them, `now` prints ISO (2026-11-26, 14:05:00).
   */
  reportDate?: string;
  reportTime?: string;
  /** Which font files draw each face (fonts.ts); default: the built-in DejaVu fonts only. */
  fonts?: FontLibrary;
}

/** For tests and simple callers: rows given in memory. */
export function memoryData(rows: Record<string, Row[]>, formatBuiltin: ReportData['formatBuiltin'] = defaultBuiltinFormat): ReportData {
  return {
    async open(queryName: string): Promise<RowStream | null> {
      const list = Object.prototype.hasOwnProperty.call(rows, queryName) ? rows[queryName]! : null;
      if (list === null) return null;
      let i = 0;
      return {
        next: async () => (i < list.length ? list[i++]! : null),
        close: async () => {
          i = list.length;
        },
      };
    },
    formatBuiltin,
  };
}
