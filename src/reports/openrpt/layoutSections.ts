/**
 * Sections and their elements (openrpt-reference §3, §5.2–§5.3, §5.9; `renderSection`, `evaluateField`,
 * `renderTextElements` in orprerender.cpp): field values with formats and totals, text areas that grow and
 * continue over pages, images, barcodes, lines and rects.
 */
import { barsFor } from './barcodes';
import { parseColor } from './colors';
import { builtinArgument, numberOf, printf, valueText } from './format';
import { imageBytesOf } from './images';
import type { DataRef, FieldElement, SectionDef, TextElement } from './model';
import { TEXT_CLIP_MARGIN, wrapText } from './textWrap';
import { CONTEXT, PageLayout, PARAMETERS, key } from './layoutPages';

export abstract class SectionLayout extends PageLayout {
  protected readonly decoded = new Map<string, Buffer | null>();

  /** Image bytes of a row value; uudecoding is remembered for the few texts a report repeats (a logo per page). */
  protected imageBytes(value: unknown): Buffer | null {
    if (typeof value !== 'string') return imageBytesOf(value);
    if (this.decoded.has(value)) return this.decoded.get(value)!;
    const bytes = imageBytesOf(value);
    if (this.decoded.size >= 8) this.decoded.delete(this.decoded.keys().next().value!);
    this.decoded.set(value, bytes);
    return bytes;
  }

  /** A value for a text area, image, barcode or watermark: the query's current row (§3 "Common"). */
  protected lookup(ref: DataRef): unknown {
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
  protected fieldContextValue(ref: DataRef): string | undefined {
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

  protected subtotalCheckpoint(ref: DataRef): number {
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
  protected evaluateField(f: FieldElement): string {
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
  protected sectionSize(s: SectionDef, ignoreText: boolean): number {
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

  protected fits(height: number, lastPage = false): boolean {
    return height + this.footerSize(lastPage) + this.bottom + this.y < this.pageHeight;
  }

  /** Draws a section at the current offset and moves below it; returns the height it took. */
  protected async renderSection(s: SectionDef): Promise<number> {
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
  protected async renderField(f: FieldElement, x0: number, y0: number): Promise<boolean> {
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
  protected async renderTextArea(t: TextElement, sectionHeight: number): Promise<number> {
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
}
