import pg from 'pg';
import type { Client, Pool } from '../db/pool';
import { errorMessage, isRetryableDbError, PermanentError, TransientError } from '../errors';
import type { Logger } from '../log';
import type { TableStream } from './csv';
import { loadMetaSql } from './definitions';
import { formatWithLocale, readNumberLocale, type NumberLocale } from './locale';
import { renderMetaSql, type BoundQuery, type MetaParams } from './metasql';
import { defaultBuiltinFormat, type ReportData, type ReportDefinition, type Row, type RowStream } from './openrpt';

/** Rows per FETCH: large enough that round trips do not dominate, small enough that memory stays flat. */
export const FETCH_ROWS = 500;

const OID = { bool: 16, bytea: 17, int8: 20, date: 1082, timestamp: 1114, timestamptz: 1184, numeric: 1700 } as const;

const identity = (v: string): string => v;

/** Errors a shared placeholder can cause that one placeholder per use avoids: types deduced for it that clash. */
const SHARED_TYPE_ERRORS = new Set(['42P08', '42883', '42804', '42725', '42P18']);

/**
 * How values reach the renderer. OpenRPT got every number as a double (12.50 prints "12.5") and dates as ISO
 * text, so numeric and bigint become JS numbers and dates stay the database's text; bytea stays binary (images).
 */
const renderTypes = {
  getTypeParser(oid: number, format?: string): (v: string) => unknown {
    switch (oid) {
      case OID.numeric:
      case OID.int8:
        return Number;
      case OID.date:
      case OID.timestamp:
      case OID.timestamptz:
        return identity;
      default:
        return pg.types.getTypeParser(oid, format as 'text');
    }
  },
};

/** For CSV: the database's own text for every value (numeric keeps all its digits), booleans as true/false. */
const textTypes = {
  getTypeParser(oid: number): (v: string) => unknown {
    return oid === OID.bool ? (v: string) => (v === 't' ? 'true' : 'false') : identity;
  },
};

/**
 * OpenRPT's Context Query takes report_date and report_time from SQL: formatDate(CURRENT_DATE) and
 * formatTime(CURRENT_TIMESTAMP). Asked once, where xTuple's functions exist; elsewhere the renderer prints ISO.
 */
async function contextDateTime(client: Client): Promise<{ date?: string; time?: string }> {
  const { rows } = await client.query<{ d: boolean; t: boolean }>(
    `SELECT to_regprocedure('public.formatdate(date)') IS NOT NULL AS d,
            to_regprocedure('public.formattime(timestamp with time zone)') IS NOT NULL AS t`,
  );
  const has = rows[0]!;
  if (!has.d && !has.t) return {};
  try {
    const { rows: v } = await client.query<{ d: string | null; t: string | null }>(
      `SELECT ${has.d ? 'public.formatDate(CURRENT_DATE)' : 'NULL'} AS d,
              ${has.t ? 'public.formatTime(CURRENT_TIMESTAMP)' : 'NULL'} AS t`,
    );
    return { date: v[0]?.d ?? undefined, time: v[0]?.t ?? undefined };
  } catch {
    return {}; // a broken ERP function must not stop the report: the renderer's own date is as good
  }
}

export interface DatabaseDataOptions {
  pool: Pool;
  def: ReportDefinition;
  /** The report's parameters (delivery options already taken out). */
  params: MetaParams;
  queryTimeoutSeconds: number;
  /** Stops the running statement and ends the transaction. */
  signal?: AbortSignal;
  log?: Logger;
}

/**
 * The report's queries, run against the database: ONE connection from the pool, in one transaction that is
 * always rolled back, with statement_timeout = reports.queryTimeoutSeconds. xTuple's stock reports call
 * functions that write (FinancialReport fills a work table, the BOM reports take sequence values), so the
 * transaction is not READ ONLY; whatever a report writes is undone when it ends, so it cannot change the ERP's
 * data, and the time limit keeps it from running away. Each query is bound through MetaSQL; a query text of
 * several statements runs all but the last for their effect, and the last is read through an SQL cursor
 * FETCH_ROWS at a time, so memory stays flat however many rows a report has. Several queries may be open at
 * once (each is its own cursor in the same transaction); opening a query again runs it again. close() rolls
 * back and returns the connection, also after an abort.
 */
export class DatabaseReportData implements ReportData {
  private cursorCount = 0;
  private readonly bound = new Map<string, Promise<BoundQuery>>();
  private readonly open_ = new Set<CursorStream>();
  private aborted: unknown = null;
  private closed = false;
  private readonly onAbort = (): void => this.abort();

  private constructor(
    private readonly client: Client,
    private readonly opts: DatabaseDataOptions,
    private readonly locale: NumberLocale | null,
    /** report_date / report_time as xTuple's formatDate/formatTime print them for this user, where they exist. */
    readonly reportDate: string | undefined,
    readonly reportTime: string | undefined,
  ) {
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  static async open(opts: DatabaseDataOptions): Promise<DatabaseReportData> {
    opts.signal?.throwIfAborted();
    const client = await opts.pool.connect();
    try {
      const stamp = await contextDateTime(client);
      await client.query('BEGIN');
      // SET LOCAL takes no parameters; the value is a whole number from the config, checked at load.
      await client.query(`SET LOCAL statement_timeout = '${Math.max(1, Math.trunc(opts.queryTimeoutSeconds))}s'`);
      const locale = await readNumberLocale(client);
      return new DatabaseReportData(client, opts, locale, stamp.date, stamp.time);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release(err instanceof Error ? err : undefined);
      throw err;
    }
  }

  get reportName(): string {
    return this.opts.def.name;
  }

  formatBuiltin(tag: string, value: number): string {
    return this.locale ? formatWithLocale(this.locale, tag, value) : defaultBuiltinFormat(tag, value);
  }

  /** Whether the numbers are formatted from the database's locale row (xTuple) or by the renderer's defaults. */
  get usesDatabaseLocale(): boolean {
    return this.locale !== null;
  }

  hasQuery(name: string): boolean {
    return this.opts.def.queries.some((q) => q.name === name);
  }

  async open(queryName: string): Promise<RowStream | null> {
    const c = await this.cursor(queryName, 'render');
    if (!c) return null;
    return {
      next: async () => {
        const values = await c.next();
        if (!values) return null;
        const row: Row = {};
        const cols = c.columns();
        // OpenRPT looks a column up by name and takes the first of duplicates; an object would keep the last.
        for (let i = 0; i < cols.length; i++) if (!(cols[i]! in row)) row[cols[i]!] = values[i];
        return row;
      },
      close: () => c.close(),
    };
  }

  /** The query's rows as value lists with their column names (CSV), every value as the database's text. */
  openTable(queryName: string): Promise<TableStream | null> {
    return this.cursor(queryName, 'text');
  }

  private async cursor(queryName: string, mode: 'render' | 'text'): Promise<CursorStream | null> {
    this.check();
    // If two queries share a name, the first wins (OpenRPT).
    const q = this.opts.def.queries.find((s) => s.name === queryName);
    if (!q) return null;
    const name = `xtc_c${++this.cursorCount}`;
    const types = mode === 'render' ? renderTypes : textTypes;
    let bound = await this.bind(queryName);
    let rows: Preloaded | null;
    try {
      if (bound.shared) {
        // A placeholder shared by two uses of one value has one type; where the uses want two (42P08, or an
        // operator that then does not exist), bind again with one placeholder per use.
        await this.client.query('SAVEPOINT xtc_shared');
        try {
          rows = await this.runStatements(bound, name, types);
          await this.client.query('RELEASE SAVEPOINT xtc_shared');
        } catch (err) {
          if (!SHARED_TYPE_ERRORS.has((err as { code?: string }).code ?? '') || this.aborted) throw err;
          await this.client.query('ROLLBACK TO SAVEPOINT xtc_shared');
          await this.client.query('RELEASE SAVEPOINT xtc_shared');
          bound = await this.bindNow(queryName, false);
          this.bound.set(queryName, Promise.resolve(bound));
          rows = await this.runStatements(bound, name, types);
        }
      } else {
        rows = await this.runStatements(bound, name, types);
      }
    } catch (err) {
      throw this.queryError(queryName, err);
    }
    const stream = new CursorStream(this, name, queryName, types, rows);
    this.open_.add(stream);
    return stream;
  }

  /**
   * All statements but the last, for their effect; then the last one as the cursor `name`. A last statement
   * that a cursor cannot hold (UPDATE … RETURNING, a function call with CALL) runs as it is, and its rows are
   * returned in memory: xTuple ran those too.
   */
  private async runStatements(bound: BoundQuery, name: string, types: unknown): Promise<Preloaded | null> {
    const all = bound.statements;
    for (let i = 0; i < all.length - 1; i++) {
      await this.client.query({ text: all[i]!.text, values: all[i]!.values, queryMode: 'extended' } as pg.QueryConfig);
    }
    const last = all[all.length - 1] ?? { text: bound.text, values: bound.values };
    if (!CURSOR_STATEMENT.test(last.text)) {
      const r = await this.client.query({ text: last.text, values: last.values, rowMode: 'array', types, queryMode: 'extended' } as pg.QueryArrayConfig);
      return { rows: r.rows ?? [], columns: (r.fields ?? []).map((f) => f.name) };
    }
    await this.client.query({ text: `DECLARE ${name} NO SCROLL CURSOR FOR ${last.text}`, values: last.values, queryMode: 'extended' } as pg.QueryConfig);
    return null;
  }

  private bind(queryName: string): Promise<BoundQuery> {
    let b = this.bound.get(queryName);
    if (!b) {
      b = this.bindNow(queryName);
      this.bound.set(queryName, b);
    }
    return b;
  }

  private async bindNow(queryName: string, share = true): Promise<BoundQuery> {
    const q = this.opts.def.queries.find((s) => s.name === queryName)!;
    let source = q.sql;
    let label = queryName;
    if (q.loadFromDb || source === null) {
      if (!q.mqlGroup || !q.mqlName) {
        throw new PermanentError(`report "${this.reportName}", query "${queryName}": has neither SQL nor a MetaSQL group and name`);
      }
      const stored = await loadMetaSql(this.opts.pool, q.mqlGroup, q.mqlName);
      if (!stored) {
        throw new PermanentError(`report "${this.reportName}", query "${queryName}": no MetaSQL statement ` +
          `${q.mqlGroup}/${q.mqlName} in metasql or xtbatch.xtconnect_metasql`);
      }
      source = stored.query;
      label = `${q.mqlGroup}-${q.mqlName}`;
    }
    try {
      return renderMetaSql(source, this.opts.params, label, {
        share,
        warn: share ? (m) => this.opts.log?.warn(`report "${this.reportName}", query "${queryName}": ${m}`) : undefined,
      });
    } catch (err) {
      throw new PermanentError(`report "${this.reportName}", query "${queryName}": ${errorMessage(err)}`);
    }
  }

  /** @internal */
  async fetch(cursor: string, queryName: string, types: unknown): Promise<{ rows: unknown[][]; columns: string[] }> {
    this.check();
    try {
      const r = await this.client.query({ text: `FETCH ${FETCH_ROWS} FROM ${cursor}`, rowMode: 'array', types } as pg.QueryArrayConfig);
      return { rows: r.rows, columns: r.fields.map((f) => f.name) };
    } catch (err) {
      throw this.queryError(queryName, err);
    }
  }

  /** @internal */
  async closeCursor(stream: CursorStream, cursor: string | null): Promise<void> {
    if (!this.open_.delete(stream) || this.closed || this.aborted || cursor === null) return;
    // After an error the transaction accepts nothing until the rollback; close() does that.
    await this.client.query(`CLOSE ${cursor}`).catch(() => undefined);
  }

  private check(): void {
    if (this.aborted) throw this.aborted;
    if (this.closed) throw new Error(`report "${this.reportName}": its database connection is already closed`);
  }

  private queryError(queryName: string, err: unknown): Error {
    if (this.aborted) return this.aborted as Error;
    const e = err as { code?: string; message?: string };
    const prefix = `report "${this.reportName}", query "${queryName}": `;
    // The report's own statement timeout (reports.queryTimeoutSeconds) is its time limit; every other fault that
    // can pass (connection, server restart, lock timeout, deadlock: src/errors.ts) is retried.
    if (isRetryableDbError(err) && !(e.code === '57014' && /statement timeout/.test(errorMessage(err)))) return new TransientError(prefix + errorMessage(err));
    if (e.code === '57014') {
      return new PermanentError(prefix + `${errorMessage(err)} (reports.queryTimeoutSeconds is ${this.opts.queryTimeoutSeconds} s; ` +
        'raise it in the config file if the query needs longer)');
    }
    return new PermanentError(prefix + errorMessage(err));
  }

  /** Cancels the statement running on the report's connection (from another one), so close() need not wait for it. */
  private abort(): void {
    if (this.aborted || this.closed) return;
    this.aborted = this.opts.signal?.reason ?? new Error('report stopped');
    const pid = (this.client as unknown as { processID?: number }).processID;
    if (pid) {
      this.opts.pool.query('SELECT pg_cancel_backend($1)', [pid]).catch((err) => {
        this.opts.log?.warn(`could not cancel the report query: ${errorMessage(err)}`);
      });
    }
  }

  /** Rolls back and returns the connection. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    this.open_.clear();
    try {
      await this.client.query('ROLLBACK');
      this.client.release();
    } catch (err) {
      // A connection in an unknown state must not go back to the pool.
      this.client.release(err instanceof Error ? err : new Error(String(err)));
    }
  }
}

/** A statement a cursor can hold: a query that only reads (SELECT, VALUES, TABLE, WITH, or one in parentheses). */
const CURSOR_STATEMENT = /^[\s(]*(SELECT|VALUES|TABLE|WITH)\b/i;

/** The rows of a last statement that ran without a cursor. */
interface Preloaded {
  rows: unknown[][];
  columns: string[];
}

/** One open cursor: a batch of rows in memory at a time. */
class CursorStream implements TableStream {
  private batch: unknown[][] = [];
  private at = 0;
  private done = false;
  private cols: string[] = [];

  constructor(
    private readonly owner: DatabaseReportData,
    private readonly cursor: string,
    private readonly queryName: string,
    private readonly types: unknown,
    preloaded: Preloaded | null = null,
  ) {
    if (preloaded) {
      this.batch = preloaded.rows;
      this.cols = preloaded.columns;
      this.done = true;
      this.preloaded = true;
    }
  }

  private preloaded = false;

  columns(): readonly string[] {
    return this.cols;
  }

  async next(): Promise<unknown[] | null> {
    if (this.at < this.batch.length) return this.batch[this.at++]!;
    if (this.done) return null;
    const got = await this.owner.fetch(this.cursor, this.queryName, this.types);
    this.cols = got.columns;
    this.batch = got.rows;
    this.at = 0;
    if (got.rows.length < FETCH_ROWS) this.done = true;
    if (!got.rows.length) return null;
    return this.batch[this.at++]!;
  }

  async close(): Promise<void> {
    this.batch = [];
    this.done = true;
    if (this.preloaded) await this.owner.closeCursor(this, null);
    else await this.owner.closeCursor(this, this.cursor);
  }
}
