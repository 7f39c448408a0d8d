/**
 * The single-pass layout of OpenRPT's ORPreRender (openrpt-reference §5; `generate`, `createNewPage`,
 * `finishCurPage`, `renderDetailSection`, `renderSection` in orprerender.cpp). It walks the definition once,
 * pulling rows from the queries as it goes, and hands each page to the sink as soon as the page is finished:
 * nothing but the current page and a few rows per query is held, whatever the number of rows.
 *
 * Three layers, one file each: pages and the layout's state (layoutPages.ts), sections and their elements
 * (layoutSections.ts), and here the report as a whole: detail sections, their rows and groups, and labels.
 */
import type { QueryCursor } from './cursor';
import { valueText } from './format';
import { labelSheetByName } from './labels';
import { key, type Checkpoints } from './layoutPages';
import { SectionLayout } from './layoutSections';
import type { DetailSectionDef } from './model';

export class ReportLayout extends SectionLayout {
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

  protected async renderDetailSection(s: DetailSectionDef): Promise<void> {
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
  protected async rerun(cursor: QueryCursor): Promise<void> {
    await cursor.open();
    for (const ref of this.def.trackedColumns) if (ref.query === cursor.name) this.pageCheckpoints.set(key(ref), 0);
  }

  protected async renderDetailRows(s: DetailSectionDef, q: QueryCursor): Promise<void> {
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

  protected async withGroup(cps: Checkpoints, body: () => Promise<unknown>): Promise<void> {
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
  protected async runLabels(sheet: NonNullable<ReturnType<typeof labelSheetByName>>): Promise<void> {
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
