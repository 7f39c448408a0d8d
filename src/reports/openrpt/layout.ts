/**
 * The single-pass layout of OpenRPT's ORPreRender (openrpt-reference §5; `generate`, `createNewPage`,
 * `finishCurPage`, `renderDetailSection`, `renderSection` in orprerender.cpp). It walks the definition once,
 * pulling rows from the queries as it goes, and hands each page to the sink as soon as the page is finished:
 * nothing but the current page and a few rows per query is held, whatever the number of rows.
 */
import type { ReportData, RenderOptions, Row } from './api';
import { barsFor } from './barcodes';
import { parseColor } from './colors';
import { QueryCursor } from './cursor';
import { DEFAULT_FONT } from './definition';
import { builtinArgument, isoDateText, numberOf, printf, timeText, valueText } from './format';
import { imageBytesOf } from './images';
import { labelSheetByName } from './labels';
import type { DataRef, DetailSectionDef, FieldElement, ReportDefinition, SectionDef, TextElement } from './model';
import type { DrawOp, PageSink } from './ops';
import { TEXT_CLIP_MARGIN, wrapText } from './textWrap';

const CONTEXT = 'Context Query';
const PARAMETERS = 'Parameter Query';

type Checkpoints = Map<string, number>;

function key(ref: DataRef): string {
  return `${ref.query}\u0000${ref.column}`;
}

/** Text for the Parameter Query: dates ISO, booleans true/false, lists "" (§4). */
function parameterText(v: unknown): string {
  if (Array.isArray(v)) return '';
  if (v instanceof Date) return isoDateText(v);
  return valueText(v);
}

export class ReportLayout {
  private readonly cursors = new Map<string, QueryCursor>();
  private readonly params: Row = { '0': '0' };
  private readonly reportDate: string;
  private readonly reportTime: string;

  private pageNo = 0;
  private y = 0;
  private left: number;
  private top: number;
  private readonly bottom: number;
  private readonly pageHeight: number;
  private page: { underlay: DrawOp[]; ops: DrawOp[] } | null = null;

  // Subtotal context (getNearestSubTotalCheckPoint): page footer first, then a group's map, then the detail.
  private inPageFooter = false;
  /** Page headers and footers, and labels, never break the page: their text is cut off instead. */
  private noBreak = false;
  private groupContext: Checkpoints | null = null;
  private detailContext: { def: DetailSectionDef; groups: Checkpoints[]; cursor: QueryCursor } | null = null;
  private readonly pageCheckpoints: Checkpoints = new Map();

  constructor(
    private readonly def: ReportDefinition,
    private readonly data: ReportData,
    private readonly sink: PageSink,
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

  /** Lays out the whole report; returns the number of pages. */
  async run(): Promise<number> {
    try {
      await this.openQueries();
      const sheet = this.def.page.labelType !== null ? labelSheetByName(this.def.page.labelType) : null;
      if (sheet) {
        this.top = sheet.startY;
        this.left = sheet.startX;
        if (this.def.page.landscape) [this.top, this.left] = [sheet.startX, sheet.startY];
      }
      await this.createNewPage();
      if (sheet) {
        await this.runLabels(sheet);
      } else {
        if (this.def.reportHead) await this.renderSection(this.def.reportHead);
        for (const s of this.def.sections) await this.renderDetailSection(s);
        const foot = this.def.reportFoot;
        if (foot) {
          if (foot.height + this.footerSize(true) + this.bottom + this.y >= this.pageHeight) await this.createNewPage();
          await this.renderSection(foot);
        }
      }
      await this.finishCurPage(true);
      return this.pageNo;
    } finally {
      for (const c of this.cursors.values()) await c.close();
    }
  }

  private async openQueries(): Promise<void> {
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

  private footerFor(lastPage: boolean): SectionDef | null {
    const f = this.def.pageFoots;
    if (lastPage && f.last) return f.last;
    if (this.pageNo === 1 && f.first) return f.first;
    if (this.pageNo % 2 === 1 && f.odd) return f.odd;
    if (this.pageNo % 2 === 0 && f.even) return f.even;
    return f.any;
  }

  private footerSize(lastPage: boolean): number {
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

  private async createNewPage(): Promise<void> {
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

  private async finishCurPage(lastPage: boolean): Promise<void> {
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

  private async inBand(footer: boolean, body: () => Promise<unknown>): Promise<void> {
    const saved = [this.inPageFooter, this.noBreak] as const;
    this.inPageFooter = footer;
    this.noBreak = true;
    try {
      await body();
    } finally {
      [this.inPageFooter, this.noBreak] = saved;
    }
  }

  private renderUnderlay(): void {
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

  private readonly decoded = new Map<string, Buffer | null>();

  /** Image bytes of a row value; uudecoding is remembered for the few texts a report repeats (a logo per page). */
  private imageBytes(value: unknown): Buffer | null {
    if (typeof value !== 'string') return imageBytesOf(value);
    if (this.decoded.has(value)) return this.decoded.get(value)!;
    const bytes = imageBytesOf(value);
    if (this.decoded.size >= 8) this.decoded.delete(this.decoded.keys().next().value!);
    this.decoded.set(value, bytes);
    return bytes;
  }

  /** A value for a text area, image, barcode or watermark: the query's current row (§3 "Common"). */
  private lookup(ref: DataRef): unknown {
    if (ref.query === CONTEXT) {
      // The Context Query's SQL gives the date and time; page variables exist only for fields (§3 "text").
      if (ref.column === 'report_date') return this.reportDate;
      if (ref.column === 'report_time') return this.reportTime;
      return undefined;
    }
    if (ref.query === PARAMETERS) return this.params[ref.column];
    return this.cursors.get(ref.query)?.value(ref.column);
  }

  /** Context values the renderer supplies to fields itself; undefined for anything else. */
  private fieldContextValue(ref: DataRef): string | undefined {
    if (ref.query !== CONTEXT) return undefined;
    switch (ref.column) {
      case 'page_number':
        return String(this.pageNo);
      case 'page_count':
        return 'page_count';
      case 'report_name':
        return this.def.name;
      case 'report_title':
        return this.def.title;
      case 'report_description':
        return this.def.description;
      default:
        return undefined;
    }
  }

  private subtotalCheckpoint(ref: DataRef): number {
    const k = key(ref);
    if (this.inPageFooter) return this.pageCheckpoints.get(k) ?? 0;
    if (this.groupContext) return this.groupContext.get(k) ?? 0;
    if (this.detailContext) {
      // The innermost group's checkpoint (OpenRPT walks outer to inner and keeps the last one found).
      let v = 0;
      for (const g of this.detailContext.groups) if (g.has(k)) v = g.get(k)!;
      return v;
    }
    return 0;
  }

  /** OpenRPT's evaluateField: the text a field shows, and its colour from `<column>_qtforegroundrole`. */
  private evaluateField(f: FieldElement): string {
    let str: string;
    let num = 0;
    let isNumber = false;
    if (f.trackTotal) {
      const c = this.cursors.get(f.data.query);
      if (c) {
        isNumber = true;
        num = c.total(f.data.column);
        if (f.subtotal) num -= this.subtotalCheckpoint(f.data);
      }
      str = valueText(num);
    } else {
      const ctx = this.fieldContextValue(f.data);
      if (ctx !== undefined) {
        str = ctx;
        if (f.data.column === 'page_number') {
          num = this.pageNo;
          isNumber = true;
        }
      } else {
        const v = this.lookup(f.data);
        str = valueText(v);
        const n = numberOf(v);
        if (n !== null) {
          num = n;
          isNumber = true;
        }
      }
    }
    if (f.format !== null) {
      // A builtin format of NULL or text sends 0, so it prints "0.00" rather than nothing (§3).
      if (f.builtin) str = this.data.formatBuiltin(f.format, isNumber ? builtinArgument(num) : 0);
      else str = printf(f.format, isNumber ? num : str);
    }
    return str;
  }

  // ---- sections ----------------------------------------------------------------------------------------

  /** A section's height: its own, or the bottom of its lowest text area when that is lower (§5.2). */
  private sectionSize(s: SectionDef, ignoreText: boolean): number {
    let h = s.height;
    if (ignoreText || s.textAreas.length === 0) return h;
    for (const t of s.textAreas) {
      const v = valueText(this.lookup(t.data));
      if (v === '') continue;
      const lines = wrapText(this.sink, t.font, v, t.rect.w - TEXT_CLIP_MARGIN).length;
      h = Math.max(h, t.rect.y + lines * t.rect.h + t.bottomPad);
    }
    return h;
  }

  private fits(height: number, lastPage = false): boolean {
    return height + this.footerSize(lastPage) + this.bottom + this.y < this.pageHeight;
  }

  /** Draws a section at the current offset and moves below it; returns the height it took. */
  private async renderSection(s: SectionDef): Promise<number> {
    if (s.elements.length === 0 && s.textAreas.length === 0) return 0;
    let height = s.height;
    let newPageRequested = false;
    const ops = this.page!.ops;
    const x0 = this.left;
    const y0 = this.y;
    for (const el of s.elements) {
      switch (el.kind) {
        case 'label':
          ops.push({
            k: 'text', x: x0 + el.rect.x, y: y0 + el.rect.y, w: el.rect.w, h: el.rect.h, text: el.text, font: el.font,
            align: el.align, style: el.style, wrap: false, color: null, pageCount: el.text === 'page_count',
          });
          break;
        case 'field':
          if (await this.renderField(el, x0, y0)) newPageRequested = true;
          break;
        case 'line':
          ops.push({
            k: 'line', x1: x0 + el.x1, y1: y0 + el.y1, x2: x0 + el.x2, y2: y0 + el.y2, width: el.width, color: el.color,
            penStyle: el.penStyle, rotation: el.rotation,
          });
          break;
        case 'rect':
          ops.push({
            k: 'rect', x: x0 + el.rect.x, y: y0 + el.rect.y, w: el.rect.w, h: el.rect.h, width: el.width, color: el.color,
            fill: el.bgcolor, penStyle: el.penStyle, rotation: el.rotation,
          });
          break;
        case 'image': {
          const bytes = el.inline ?? (el.data ? this.imageBytes(this.lookup(el.data)) : null);
          if (bytes) {
            ops.push({ k: 'image', x: x0 + el.rect.x, y: y0 + el.rect.y, w: el.rect.w, h: el.rect.h, bytes, mode: el.mode, rotation: el.rotation, opacity: 1 });
          }
          break;
        }
        case 'barcode': {
          const b = barsFor(el, valueText(this.lookup(el.data)));
          if (b) ops.push({ k: 'bars', x: x0 + el.rect.x, y: y0 + el.rect.y, h: el.rect.h, bars: b.bars, rotation: el.rotation });
          break;
        }
        default:
          break;
      }
    }
    if (s.textAreas.length > 0) {
      let stretchedHeight = height;
      for (const t of s.textAreas) stretchedHeight = await this.renderTextArea(t, stretchedHeight);
      height = stretchedHeight;
    }
    this.y += height;
    // A grid asking for a new page from a page header or footer would recurse into page making: ignored there.
    if (newPageRequested && !this.noBreak) await this.createNewPage();
    return height;
  }

  /** Returns true when a grid field asks for a new page after the section (triggerPageBreak). */
  private async renderField(f: FieldElement, x0: number, y0: number): Promise<boolean> {
    const colorColumn = `${f.data.column}_qtforegroundrole`;
    const cells: Array<[number, number]> = [];
    const g = f.grid;
    if (g) {
      if (g.leftToRight) for (let c = 0; c < g.columns; c++) for (let l = 0; l < g.lines; l++) cells.push([c, l]);
      else for (let l = 0; l < g.lines; l++) for (let c = 0; c < g.columns; c++) cells.push([c, l]);
    } else {
      cells.push([0, 0]);
    }
    let hasNext = false;
    for (const [col, line] of cells) {
      const text = this.evaluateField(f);
      const colorValue = f.data.query === CONTEXT || f.data.query === PARAMETERS ? undefined : this.lookup({ query: f.data.query, column: colorColumn });
      this.page!.ops.push({
        k: 'text',
        x: x0 + f.rect.x + (g ? col * (f.rect.w + g.xSpacing) : 0),
        y: y0 + f.rect.y + (g ? line * (f.rect.h + g.ySpacing) : 0),
        w: f.rect.w,
        h: f.rect.h,
        text,
        font: f.font,
        align: f.align,
        style: f.style,
        wrap: f.wordwrap,
        color: colorValue === undefined || colorValue === null ? null : parseColor(valueText(colorValue)),
        pageCount: text === 'page_count',
      });
      hasNext = false;
      if (g) {
        const c = this.cursors.get(f.data.query);
        if (c) hasNext = await c.next();
      }
      if (!hasNext) break;
    }
    return hasNext && g !== null && g.triggerPageBreak;
  }

  /**
   * A text area: one box per line, stacked down from its rect; it grows the section and continues on the next
   * page when it reaches the footer (§3 "text", §5.3). Returns the section height including this growth.
   */
  private async renderTextArea(t: TextElement, sectionHeight: number): Promise<number> {
    const value = valueText(this.lookup(t.data));
    if (value === '') return sectionHeight;
    const lines = wrapText(this.sink, t.font, value, t.rect.w - TEXT_CLIP_MARGIN);
    const detail = this.detailContext?.cursor ?? null;
    const lastRow = detail ? detail.isLastRow() : true;
    let height = sectionHeight;
    let base = this.y + t.rect.y;
    let stretch = t.rect.y;
    let n = 0;
    let limit = this.pageHeight - this.bottom - (this.noBreak ? 0 : this.footerSize(lastRow));
    // Right after a break the line goes on the page whatever its size, so an oversized line cannot loop.
    let justBroke = false;
    for (const line of lines) {
      if (!this.noBreak && !justBroke && base + n * t.rect.h + t.rect.h >= limit) {
        const back = detail !== null && detail.position > 0 && detail.previous();
        await this.createNewPage();
        if (back) await detail!.next();
        // It continues at its rect y below the next page's header.
        base = this.y + t.rect.y;
        stretch = t.rect.y;
        n = 0;
        height = 0;
        justBroke = true;
        limit = this.pageHeight - this.bottom - this.footerSize(lastRow);
      }
      // Text in a page header or footer, or on a label, is cut off at the paper's edge instead.
      if (this.noBreak && base + n * t.rect.h >= this.pageHeight) break;
      this.page!.ops.push({
        k: 'text', x: this.left + t.rect.x, y: base + n * t.rect.h, w: t.rect.w, h: t.rect.h, text: line, font: t.font,
        align: t.align, style: t.style, wrap: false, color: null, pageCount: false,
      });
      stretch += t.rect.h;
      n++;
      justBroke = false;
    }
    stretch += t.bottomPad;
    return Math.max(height, stretch);
  }

  // ---- detail sections ---------------------------------------------------------------------------------

  private async renderDetailSection(s: DetailSectionDef): Promise<void> {
    const cursor = this.cursors.get(s.keyQuery);
    if (cursor) {
      // Each detail section iterates its key query from the first row; re-run it if something moved it.
      if (cursor.moved) await this.rerun(cursor);
      if (!cursor.isEmpty) await this.renderDetailRows(s, cursor);
    }
    if (s.pagebreakAtEnd) await this.createNewPage();
  }

  /**
   * Runs a query again from its first row. Its running sums restart there, so the page's checkpoints for it
   * restart too: a page footer subtotal then counts the re-run rows, never a negative amount.
   */
  private async rerun(cursor: QueryCursor): Promise<void> {
    await cursor.open();
    for (const ref of this.def.trackedColumns) if (ref.query === cursor.name) this.pageCheckpoints.set(key(ref), 0);
  }

  private async renderDetailRows(s: DetailSectionDef, q: QueryCursor): Promise<void> {
    const groups: Checkpoints[] = s.groups.map(() => {
      const m: Checkpoints = new Map();
      for (const ref of this.def.trackedColumns) m.set(key(ref), 0);
      return m;
    });
    const saveDetail = this.detailContext;
    this.detailContext = { def: s, groups, cursor: q };
    try {
      const keyOf = (col: string): string => (col === '' ? '' : valueText(q.value(col)));
      const keyValues = s.groups.map((g) => keyOf(g.column));
      for (let i = 0; i < s.groups.length; i++) {
        const head = s.groups[i]!.head;
        if (head) await this.withGroup(groups[i]!, () => this.renderSection(head));
      }
      const checkpointGroup = (i: number): void => {
        for (const ref of this.def.trackedColumns) groups[i]!.set(key(ref), this.cursors.get(ref.query)?.total(ref.column) ?? 0);
      };
      const renderFoot = async (i: number): Promise<void> => {
        const foot = s.groups[i]!.foot;
        if (foot) {
          await this.withGroup(groups[i]!, async () => {
            if (!this.fits(this.sectionSize(foot, false))) await this.createNewPage();
            await this.renderSection(foot);
          });
        }
        checkpointGroup(i);
      };

      let status: boolean;
      do {
        if (!this.fits(s.detail.height, q.isLastRow())) {
          const back = q.position > 0 && q.previous();
          await this.createNewPage();
          if (back) await q.next();
        }
        await this.renderSection(s.detail);
        status = await q.next();
        if (status && s.groups.length > 0) {
          const pos = keyValues.findIndex((v, i) => v !== keyOf(s.groups[i]!.column));
          if (pos !== -1 && q.previous()) {
            // Feet innermost first while the old group's last row is current; then heads on the new row.
            let doBreak = false;
            for (let i = s.groups.length - 1; i >= pos; i--) {
              if (doBreak) await this.createNewPage();
              doBreak = false;
              await renderFoot(i);
              if (s.groups[i]!.pagebreakAfterFoot) doBreak = true;
            }
            status = await q.next();
            if (doBreak) await this.createNewPage();
            if (status) {
              for (let i = pos; i < s.groups.length; i++) {
                const head = s.groups[i]!.head;
                if (head) {
                  await this.withGroup(groups[i]!, async () => {
                    if (!this.fits(this.sectionSize(head, false))) {
                      const back = q.previous();
                      await this.createNewPage();
                      if (back) await q.next();
                    }
                    await this.renderSection(head);
                  });
                }
                keyValues[i] = keyOf(s.groups[i]!.column);
              }
            }
          }
        }
      } while (status);
      // Back onto the last row: it stays readable for the feet and the report footer, totals still valid.
      q.previous();
      for (let i = s.groups.length - 1; i >= 0; i--) await renderFoot(i);
    } finally {
      this.detailContext = saveDetail;
    }
  }

  private async withGroup(cps: Checkpoints, body: () => Promise<unknown>): Promise<void> {
    const saved = this.groupContext;
    this.groupContext = cps;
    try {
      await body();
    } finally {
      this.groupContext = saved;
    }
  }

  // ---- labels ------------------------------------------------------------------------------------------

  /** Labels mode (§5.10): each detail row is one label, across then down; groups, rpthead and rptfoot ignored. */
  private async runLabels(sheet: NonNullable<ReturnType<typeof labelSheetByName>>): Promise<void> {
    const portrait = !this.def.page.landscape;
    const w = portrait ? sheet.width : sheet.height;
    const wg = portrait ? sheet.xGap : sheet.yGap;
    const h = portrait ? sheet.height : sheet.width;
    const hg = portrait ? sheet.yGap : sheet.xGap;
    const cols = portrait ? sheet.columns : sheet.rows;
    const rows = portrait ? sheet.rows : sheet.columns;
    const margin = this.left;
    this.y = this.top;
    this.noBreak = true;
    // One sheet position across all sections, as OpenRPT keeps it.
    let col = 0;
    let row = 0;
    try {
      for (const s of this.def.sections) {
        const q = this.cursors.get(s.keyQuery);
        if (!q) continue;
        if (q.moved) await this.rerun(q);
        if (q.isEmpty) continue;
        do {
          const keep = this.y;
          await this.renderSection(s.detail);
          this.y = keep;
          col++;
          this.left += w + wg;
          if (col >= cols) {
            this.left = margin;
            col = 0;
            row++;
            this.y += h + hg;
            if (row >= rows) {
              // A sheet filled exactly is followed by a blank page, as in OpenRPT.
              row = 0;
              await this.createNewPage();
              this.y = this.top;
            }
          }
        } while (await q.next());
      }
    } finally {
      this.noBreak = false;
      this.left = margin;
    }
  }
}
