/**
 * The page side of OpenRPT's single-pass layout (openrpt-reference §5; `createNewPage`, `finishCurPage` in
 * orprerender.cpp): the layout's state, the queries opened at the start, page headers and footers, the
 * underlay (background and watermark). Sections and detail rows build on it (layoutSections.ts, layout.ts).
 */
import type { ReportData, RenderOptions, Row } from './api';
import { QueryCursor } from './cursor';
import { DEFAULT_FONT } from './definition';
import { isoDateText, timeText, valueText } from './format';
import type { DataRef, DetailSectionDef, ReportDefinition, SectionDef } from './model';
import type { DrawOp, PageSink } from './ops';

export const CONTEXT = 'Context Query';
export const PARAMETERS = 'Parameter Query';

export type Checkpoints = Map<string, number>;

export function key(ref: DataRef): string {
  return `${ref.query}\u0000${ref.column}`;
}

/** Text for the Parameter Query: dates ISO, booleans true/false, lists "" (§4). */
function parameterText(v: unknown): string {
  if (Array.isArray(v)) return '';
  if (v instanceof Date) return isoDateText(v);
  return valueText(v);
}

export abstract class PageLayout {
  protected readonly cursors = new Map<string, QueryCursor>();
  protected readonly params: Row = { '0': '0' };
  protected readonly reportDate: string;
  protected readonly reportTime: string;

  protected pageNo = 0;
  protected y = 0;
  protected left: number;
  protected top: number;
  protected readonly bottom: number;
  protected readonly pageHeight: number;
  protected page: { underlay: DrawOp[]; ops: DrawOp[] } | null = null;

  // Subtotal context (getNearestSubTotalCheckPoint): page footer first, then a group's map, then the detail.
  protected inPageFooter = false;
  /** Page headers and footers, and labels, never break the page: their text is cut off instead. */
  protected noBreak = false;
  protected groupContext: Checkpoints | null = null;
  protected detailContext: { def: DetailSectionDef; groups: Checkpoints[]; cursor: QueryCursor } | null = null;
  protected readonly pageCheckpoints: Checkpoints = new Map();

  constructor(
    protected readonly def: ReportDefinition,
    protected readonly data: ReportData,
    protected readonly sink: PageSink,
    opts: RenderOptions = {},
  ) {
    const now = opts.now ?? new Date();
    this.reportDate = opts.reportDate ?? isoDateText(new Date(now.getFullYear(), now.getMonth(), now.getDate()));
    this.reportTime = opts.reportTime ?? timeText(now);
    let n = 1;
    for (const [name, v] of opts.parameters ?? new Map<string, unknown>()) {
      const t = parameterText(v);
      this.params[String(n++)] = t;
      if (name !== '') this.params[name] = t;
    }
    const m = def.page.margins;
    this.top = m.top;
    this.bottom = m.bottom;
    this.left = m.left;
    this.pageHeight = def.page.height;
    for (const ref of def.trackedColumns) this.pageCheckpoints.set(key(ref), 0);
  }

  protected async openQueries(): Promise<void> {
    const tracked = new Map<string, string[]>();
    for (const ref of this.def.trackedColumns) tracked.set(ref.query, [...(tracked.get(ref.query) ?? []), ref.column]);
    // Every query runs once at the start and sits on its first row (§4 "Query timing").
    for (const q of this.def.queries) {
      if (q.name === CONTEXT || q.name === PARAMETERS) continue;
      const c = new QueryCursor(q.name, () => this.data.open(q.name), tracked.get(q.name) ?? []);
      this.cursors.set(q.name, c);
      await c.open();
    }
  }

  // ---- pages -------------------------------------------------------------------------------------------

  protected footerFor(lastPage: boolean): SectionDef | null {
    const f = this.def.pageFoots;
    if (lastPage && f.last) return f.last;
    if (this.pageNo === 1 && f.first) return f.first;
    if (this.pageNo % 2 === 1 && f.odd) return f.odd;
    if (this.pageNo % 2 === 0 && f.even) return f.even;
    return f.any;
  }

  protected footerSize(lastPage: boolean): number {
    const f = this.footerFor(lastPage);
    if (!f) return 0;
    const saved = this.inPageFooter;
    this.inPageFooter = true;
    try {
      return this.sectionSize(f, false);
    } finally {
      this.inPageFooter = saved;
    }
  }

  protected async createNewPage(): Promise<void> {
    if (this.pageNo > 0) await this.finishCurPage(false);
    // The page footer's subtotals count from here. Page 1 starts from zero: nothing was printed before it.
    for (const ref of this.def.trackedColumns) {
      this.pageCheckpoints.set(key(ref), this.pageNo === 0 ? 0 : (this.cursors.get(ref.query)?.total(ref.column) ?? 0));
    }
    this.pageNo++;
    this.page = { underlay: [], ops: [] };
    this.renderUnderlay();
    this.y = this.top;
    const h = this.def.pageHeads;
    // A lastpage header is never used (§5.1).
    const head = this.pageNo === 1 && h.first ? h.first : this.pageNo % 2 === 1 && h.odd ? h.odd : this.pageNo % 2 === 0 && h.even ? h.even : h.any;
    if (head) await this.inBand(false, () => this.renderSection(head));
  }

  protected async finishCurPage(lastPage: boolean): Promise<void> {
    const foot = this.footerFor(lastPage);
    if (foot) {
      await this.inBand(true, async () => {
        // At the bottom margin, or just below the content when that is lower (it may then overflow).
        this.y = Math.max(this.pageHeight - this.bottom - this.sectionSize(foot, false), this.y);
        await this.renderSection(foot);
      });
    }
    const page = this.page!;
    this.page = null;
    await this.sink.writePage(page);
  }

  protected async inBand(footer: boolean, body: () => Promise<unknown>): Promise<void> {
    const saved = [this.inPageFooter, this.noBreak] as const;
    this.inPageFooter = footer;
    this.noBreak = true;
    try {
      await body();
    } finally {
      [this.inPageFooter, this.noBreak] = saved;
    }
  }

  protected renderUnderlay(): void {
    const under = this.page!.underlay;
    const bg = this.def.background;
    if (bg) {
      const bytes = bg.inline ?? (bg.data ? this.imageBytes(this.lookup(bg.data)) : null);
      if (bytes) {
        const r = bg.rect;
        const full = r.w <= 0 || r.h <= 0;
        under.push({
          k: 'image', bytes, mode: bg.mode, rotation: 0, opacity: bg.opacity / 255,
          x: full ? 0 : r.x, y: full ? 0 : r.y, w: full ? this.def.page.width : r.w, h: full ? this.def.page.height : r.h,
        });
      }
    }
    const wm = this.def.watermark;
    if (wm && wm.opacity > 0) {
      const text = wm.text ?? (wm.data ? this.fieldContextValue(wm.data) ?? valueText(this.lookup(wm.data)) : '');
      if (text) under.push({ k: 'watermark', text, font: wm.font ?? DEFAULT_FONT, opacity: wm.opacity / 255 });
    }
  }

  // ---- data --------------------------------------------------------------------------------------------

  // Provided by layoutSections.ts.
  /** Renders one band at the current position; returns its height. */
  protected abstract renderSection(s: SectionDef): Promise<number>;
  protected abstract sectionSize(s: SectionDef, ignoreText: boolean): number;
  protected abstract imageBytes(value: unknown): Buffer | null;
  protected abstract lookup(ref: DataRef): unknown;
  protected abstract fieldContextValue(ref: DataRef): string | undefined;
}
