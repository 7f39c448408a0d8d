/**
 * OpenRPT report XML → ReportDefinition (openrpt-reference §1–§3). Parsed once per report, so the layout never
 * touches XML while rows stream through it.
 */
import { parseColor } from './colors';
import { uudecode } from './images';
import { builtInLabelNames, labelSheetByName } from './labels';
import type {
  Align, BackgroundDef, BarcodeElement, BoxStyle, DataRef, DetailSectionDef, ElementDef, FieldElement, FieldGrid,
  FontFamily, FontSpec, GroupDef, HAlign, ImageElement, LabelElement, LineElement, PageBands, PageSetup,
  QuerySourceDef, Rect, RectElement, ReportDefinition, SectionDef, TextElement, VAlign, WatermarkDef,
} from './model';
import { pageSizeByName } from './pageSizes';
import { child, childText, has, parseXml, XmlSyntaxError, type XNode } from './xmlTree';

/** A definition that cannot be rendered; the message names the report and the element. */
export class DefinitionError extends Error {
  override name = 'DefinitionError';
}

const fontCache = new Map<string, FontSpec>();

/** Qt's default application font is "Not determined" in the reference; 10 pt Helvetica is what most setups show. */
export const DEFAULT_FONT: FontSpec = fontSpec('Helvetica', false, false, 10);

const NO_STYLE: BoxStyle = Object.freeze({ color: null, bgcolor: null, borderColor: null, borderWidth: 0, borderStyle: 1, rotation: 0 });

class Ctx {
  constructor(readonly report: string) {}
  fail(where: string, problem: string): never {
    throw new DefinitionError(`report "${this.report}": ${where}: ${problem}`);
  }
  /** A number in the XML; empty means 0 (as Qt's toDouble), text that is not a number is an error. */
  num(node: XNode | undefined, where: string, dflt = 0): number {
    if (node === undefined) return dflt;
    const t = node.text.trim();
    if (t === '') return dflt;
    const n = Number(t);
    if (!Number.isFinite(n)) this.fail(where, `<${node.tag}> is "${t.slice(0, 40)}", not a number`);
    return n;
  }
}

export function parseDefinition(xml: string, nameHint?: string): ReportDefinition {
  const label = nameHint ?? 'unnamed';
  let root: XNode | null;
  try {
    root = parseXml(xml);
  } catch (err) {
    if (err instanceof XmlSyntaxError) {
      throw new DefinitionError(`report "${label}": the definition is not well-formed XML (line ${err.line}, column ${err.col}: ${err.message})`);
    }
    throw err;
  }
  if (root === null || root.tag !== 'report') {
    throw new DefinitionError(`report "${label}": the definition's root element is <${root?.tag ?? 'nothing'}>, not <report>`);
  }
  const name = childText(root, 'name') || nameHint || '';
  const ctx = new Ctx(name || label);

  const queries: QuerySourceDef[] = [];
  const pageHeads: PageBands = { first: null, odd: null, even: null, last: null, any: null };
  const pageFoots: PageBands = { first: null, odd: null, even: null, last: null, any: null };
  const sections: DetailSectionDef[] = [];
  let reportHead: SectionDef | null = null;
  let reportFoot: SectionDef | null = null;
  let watermark: WatermarkDef | null = null;
  let background: BackgroundDef | null = null;

  for (const node of root.children) {
    switch (node.tag) {
      case 'querysource': {
        const q = parseQuerySource(ctx, node, queries.length + 1);
        // Two queries of one name: the first wins (§2).
        if (!queries.some((e) => e.name === q.name)) queries.push(q);
        break;
      }
      case 'rpthead':
        reportHead = parseBand(ctx, node, 'rpthead');
        break;
      case 'rptfoot':
        reportFoot = parseBand(ctx, node, 'rptfoot');
        break;
      case 'pghead':
      case 'pgfoot': {
        const slots = node.tag === 'pghead' ? pageHeads : pageFoots;
        const marker = has(node, 'firstpage') ? 'first' : has(node, 'odd') ? 'odd' : has(node, 'even') ? 'even' : has(node, 'lastpage') ? 'last' : 'any';
        slots[marker] = parseBand(ctx, node, `${node.tag} (${marker === 'first' ? 'firstpage' : marker === 'last' ? 'lastpage' : marker})`);
        break;
      }
      case 'section': {
        const s = parseDetailSection(ctx, node);
        if (s) sections.push(s);
        break;
      }
      case 'watermark':
        watermark = parseWatermark(ctx, node);
        break;
      case 'background':
        background = parseBackground(ctx, node);
        break;
      default:
        // title, description, size, margins... are read below; grid, database, colordef, parameter are ignored.
        break;
    }
  }

  const def: ReportDefinition = {
    name,
    title: childText(root, 'title') ?? '',
    description: childText(root, 'description') ?? '',
    queries,
    page: parsePage(ctx, root),
    reportHead,
    reportFoot,
    pageHeads,
    pageFoots,
    sections,
    watermark,
    background,
    trackedColumns: [],
  };
  def.trackedColumns = collectTracked(def);
  return def;
}

function parseQuerySource(ctx: Ctx, node: XNode, n: number): QuerySourceDef {
  const name = childText(node, 'name') ?? '';
  const where = name ? `querysource "${name}"` : `querysource ${n}`;
  if (!name) ctx.fail(where, 'has no <name>');
  const loadFromDb = (node.attrs['loadFromDb'] ?? '').toLowerCase() === 'true';
  const sqlNode = child(node, 'sql');
  const mqlGroup = childText(node, 'mqlgroup') ?? null;
  const mqlName = childText(node, 'mqlname') ?? null;
  if (loadFromDb && (!mqlGroup || !mqlName)) ctx.fail(where, 'has loadFromDb="true" but no <mqlgroup> and <mqlname>');
  if (!loadFromDb && sqlNode === undefined) ctx.fail(where, 'has no <sql>');
  return { name, sql: sqlNode ? sqlNode.text : null, mqlGroup, mqlName, loadFromDb };
}

function parsePage(ctx: Ctx, root: XNode): PageSetup {
  const sizeNode = child(root, 'size');
  const landscape = has(root, 'landscape');
  let sizeName = 'Letter';
  let w = 850;
  let h = 1100;
  let labelType: string | null = null;
  if (sizeNode && (has(sizeNode, 'width') || has(sizeNode, 'height'))) {
    sizeName = 'Custom';
    w = ctx.num(child(sizeNode, 'width'), 'page <size>', 850);
    h = ctx.num(child(sizeNode, 'height'), 'page <size>', 1100);
    if (w <= 0 || h <= 0) ctx.fail('page <size>', `the custom size ${w} x ${h} (1/100 inch) is not a page`);
  } else if (sizeNode) {
    sizeName = sizeNode.text.trim() || 'Letter';
    [w, h] = pageSizeByName(sizeName);
  }
  if (sizeName === 'Labels') {
    labelType = childText(root, 'labeltype') ?? '';
    const sheet = labelSheetByName(labelType);
    if (!sheet) ctx.fail('<labeltype>', `label type "${labelType}" is unknown (known: ${builtInLabelNames().join(', ')})`);
    [w, h] = pageSizeByName(sheet.paper);
  }
  const margin = (tag: string): number => {
    const t = childText(root, tag);
    if (t === undefined) return 100; // missing: 1 in
    const v = Number(t);
    return t === '' || !Number.isFinite(v) || v < 0 ? 50 : v; // invalid or negative: 0.5 in
  };
  return {
    sizeName,
    width: landscape ? h : w,
    height: landscape ? w : h,
    landscape,
    margins: { top: margin('topmargin'), bottom: margin('bottommargin'), left: margin('leftmargin'), right: margin('rightmargin') },
    labelType,
  };
}

function parseDetailSection(ctx: Ctx, node: XNode): DetailSectionDef | null {
  const name = childText(node, 'name') ?? '';
  const detailNode = child(node, 'detail');
  const keyNode = detailNode && child(detailNode, 'key');
  const keyQuery = keyNode ? (childText(keyNode, 'query') ?? '') : '';
  // Sections without a name, detail or key query are dropped silently, as OpenRPT does (§2).
  if (!name || !detailNode || !keyNode || !keyQuery) return null;
  const where = `section "${name}"`;
  const keyColumn = childText(keyNode, 'column') ?? '';
  const groups: GroupDef[] = [];
  let oldHead: SectionDef | null = null;
  let oldFoot: SectionDef | null = null;
  for (const c of node.children) {
    if (c.tag === 'group') {
      const gname = childText(c, 'name') ?? '';
      const gwhere = `${where} group "${gname || groups.length + 1}"`;
      const head = child(c, 'head');
      const foot = child(c, 'foot');
      groups.push({
        name: gname,
        column: childText(c, 'column') ?? '',
        pagebreakAfterFoot: breakWhen(c) === 'after foot',
        head: head ? parseBand(ctx, head, `${gwhere} head`) : null,
        foot: foot ? parseBand(ctx, foot, `${gwhere} foot`) : null,
      });
    } else if (c.tag === 'grouphead') {
      oldHead = parseBand(ctx, c, `${where} grouphead`);
    } else if (c.tag === 'groupfoot') {
      oldFoot = parseBand(ctx, c, `${where} groupfoot`);
    }
  }
  // An old-style grouphead/groupfoot is a group on the key column (§2).
  if (oldHead || oldFoot) groups.push({ name: '', column: keyColumn, pagebreakAfterFoot: false, head: oldHead, foot: oldFoot });
  return {
    name,
    pagebreakAtEnd: breakWhen(node) === 'at end',
    keyQuery,
    keyColumn,
    groups,
    detail: parseBand(ctx, detailNode, `${where} detail`),
  };
}

function breakWhen(node: XNode): string | null {
  const pb = child(node, 'pagebreak');
  return pb ? (pb.attrs['when'] ?? '').trim().toLowerCase() : null;
}

/** A band (rpthead, pghead, group head, detail, ...): its height and its elements. */
function parseBand(ctx: Ctx, node: XNode, where: string): SectionDef {
  const elements: ElementDef[] = [];
  const textAreas: TextElement[] = [];
  const counts = new Map<string, number>();
  for (const c of node.children) {
    const n = (counts.get(c.tag) ?? 0) + 1;
    counts.set(c.tag, n);
    const ewhere = `${c.tag} ${n} in ${where}`;
    const el = parseElement(ctx, c, ewhere);
    if (!el) continue;
    if (el.kind === 'text') textAreas.push(el);
    else elements.push(el);
  }
  return { where, height: ctx.num(child(node, 'height'), `${where} <height>`), elements, textAreas };
}

function parseElement(ctx: Ctx, node: XNode, where: string): ElementDef | null {
  switch (node.tag) {
    case 'label':
      return parseLabel(ctx, node, where);
    case 'field':
      return parseField(ctx, node, where);
    case 'text':
      return parseText(ctx, node, where);
    case 'line':
      return parseLine(ctx, node, where);
    case 'rect':
      return parseRectElement(ctx, node, where);
    case 'image':
      return parseImage(ctx, node, where);
    case 'barcode':
      return parseBarcode(ctx, node, where);
    default:
      // graph and crosstab are not drawn (see the module README); unknown tags are ignored (§2).
      return null;
  }
}

/** The `<rect>` of a boxed element, coordinates truncated (§1); undefined when there is none. */
function rectOf(ctx: Ctx, node: XNode, where: string): Rect | undefined {
  const r = child(node, 'rect');
  if (!r) return undefined;
  return {
    x: Math.trunc(ctx.num(child(r, 'x'), where)),
    y: Math.trunc(ctx.num(child(r, 'y'), where)),
    w: Math.trunc(ctx.num(child(r, 'width'), where)),
    h: Math.trunc(ctx.num(child(r, 'height'), where)),
  };
}

/** A style property read inside `<rect>` first (where the reference puts it), then on the element itself. */
function prop(node: XNode, tag: string): XNode | undefined {
  const r = child(node, 'rect');
  return (r && child(r, tag)) ?? child(node, tag);
}

function colorOf(node: XNode | undefined): string | null {
  if (!node) return null;
  if (has(node, 'red') || has(node, 'green') || has(node, 'blue')) {
    const c = (t: string): string => Math.max(0, Math.min(255, Number(childText(node, t) ?? 0) || 0)).toString(16).padStart(2, '0');
    return `#${c('red')}${c('green')}${c('blue')}`;
  }
  return parseColor(node.text);
}

function styleOf(ctx: Ctx, node: XNode, where: string): BoxStyle {
  const color = colorOf(prop(node, 'color'));
  const bgcolor = colorOf(prop(node, 'bgcolor'));
  const borderColor = colorOf(prop(node, 'bordercolor'));
  const bw = prop(node, 'borderwidth') ?? prop(node, 'weight');
  const borderWidth = ctx.num(bw, where);
  const borderStyle = Math.trunc(ctx.num(prop(node, 'borderstyle'), where, 1)) || 1;
  const rotation = ctx.num(prop(node, 'rotation'), where);
  if (!color && !bgcolor && !borderColor && borderWidth === 0 && rotation === 0) return NO_STYLE;
  return { color, bgcolor, borderColor, borderWidth, borderStyle, rotation };
}

function alignOf(node: XNode): Align {
  const h: HAlign = has(node, 'hcenter') ? 'center' : has(node, 'right') ? 'right' : 'left';
  const v: VAlign = has(node, 'vcenter') ? 'center' : has(node, 'bottom') ? 'bottom' : 'top';
  return { h, v };
}

function fontSpec(family: FontFamily, bold: boolean, italic: boolean, size: number): FontSpec {
  const key = `${family}|${bold}|${italic}|${size}`;
  let f = fontCache.get(key);
  if (!f) {
    const base = family === 'Times' ? 'Times' : family;
    let pdfName: string;
    if (base === 'Times') pdfName = bold && italic ? 'Times-BoldItalic' : bold ? 'Times-Bold' : italic ? 'Times-Italic' : 'Times-Roman';
    else pdfName = bold && italic ? `${base}-BoldOblique` : bold ? `${base}-Bold` : italic ? `${base}-Oblique` : base;
    f = Object.freeze({ family, bold, italic, size, pdfName });
    fontCache.set(key, f);
  }
  return f;
}

/** Face names map onto the standard PDF fonts; a comma-separated face is a fallback list, first known wins. */
export function familyOf(face: string): FontFamily {
  for (const raw of face.split(',')) {
    const f = raw.trim().toLowerCase();
    if (!f) continue;
    if (f.includes('courier') || f.includes('mono') || f === 'fixed') return 'Courier';
    if (f.includes('times') || f.includes('georgia') || f === 'serif' || (f.includes('serif') && !f.includes('sans'))) return 'Times';
    if (f.includes('arial') || f.includes('helvetica') || f.includes('sans') || f.includes('verdana') || f.includes('tahoma')) return 'Helvetica';
  }
  return 'Helvetica';
}

function fontOf(ctx: Ctx, node: XNode, where: string): FontSpec {
  const f = child(node, 'font');
  if (!f) return DEFAULT_FONT;
  const face = childText(f, 'face') ?? '';
  const sizeText = childText(f, 'size') ?? '';
  // Whole points only; anything else is ignored (§1).
  const size = /^\d+$/.test(sizeText) && Number(sizeText) > 0 ? Number(sizeText) : DEFAULT_FONT.size;
  const wt = (childText(f, 'weight') ?? 'normal').toLowerCase();
  let weight = 50;
  if (wt === 'bold') weight = 75;
  else if (wt !== 'normal' && wt !== '') weight = ctx.num(child(f, 'weight'), `${where} <font>`, 50);
  return fontSpec(face ? familyOf(face) : DEFAULT_FONT.family, weight >= 63, has(f, 'italic'), size);
}

function dataOf(node: XNode): DataRef | null {
  const d = child(node, 'data');
  if (!d) return null;
  const query = childText(d, 'query') ?? '';
  const column = childText(d, 'column') ?? '';
  return query && column ? { query, column } : null;
}

function parseLabel(ctx: Ctx, node: XNode, where: string): LabelElement | null {
  const rect = rectOf(ctx, node, where);
  const s = child(node, 'string');
  if (!rect || !s) return null;
  return { kind: 'label', rect, font: fontOf(ctx, node, where), align: alignOf(node), style: styleOf(ctx, node, where), text: s.text };
}

function parseField(ctx: Ctx, node: XNode, where: string): FieldElement | null {
  const rect = rectOf(ctx, node, where);
  const data = dataOf(node);
  if (!rect || !data) return null;
  let format: string | null = null;
  let builtin = false;
  const fmt = child(node, 'format');
  if (fmt && fmt.text.trim() !== '') {
    format = fmt.text;
    builtin = (fmt.attrs['builtin'] ?? '').toLowerCase() === 'true';
  }
  const tt = child(node, 'tracktotal');
  // Old definitions put the total's format inside <tracktotal>; newer ones use <format>. Either way a total
  // is shown only when a format is set (§3).
  if (tt && tt.text.trim() !== '') {
    format = tt.text;
    builtin = (tt.attrs['builtin'] ?? '').toLowerCase() === 'true';
  }
  if (builtin && format !== null) format = format.trim();
  const lines = Math.max(1, Math.trunc(ctx.num(child(node, 'lines'), where, 1)));
  const columns = Math.max(1, Math.trunc(ctx.num(child(node, 'columns'), where, 1)));
  const flag = (tag: string): boolean => {
    const c = child(node, tag);
    return c !== undefined && c.text.trim().toLowerCase() !== 'false' && c.text.trim() !== '0';
  };
  const triggerPageBreak = flag('triggerPageBreak');
  const grid: FieldGrid | null =
    lines > 1 || columns > 1 || triggerPageBreak
      ? {
          lines,
          columns,
          xSpacing: ctx.num(child(node, 'xSpacing'), where) * 100,
          ySpacing: ctx.num(child(node, 'ySpacing'), where) * 100,
          leftToRight: flag('leftToRight'),
          triggerPageBreak,
        }
      : null;
  return {
    kind: 'field',
    rect,
    font: fontOf(ctx, node, where),
    align: alignOf(node),
    style: styleOf(ctx, node, where),
    data,
    format,
    builtin,
    trackTotal: tt !== undefined && format !== null,
    subtotal: tt !== undefined && (tt.attrs['subtotal'] ?? '').toLowerCase() === 'true',
    wordwrap: has(node, 'wordwrap'),
    grid,
  };
}

function parseText(ctx: Ctx, node: XNode, where: string): TextElement | null {
  const rect = rectOf(ctx, node, where);
  const data = dataOf(node);
  if (!rect || !data) return null;
  return {
    kind: 'text',
    rect,
    font: fontOf(ctx, node, where),
    align: alignOf(node),
    style: styleOf(ctx, node, where),
    data,
    bottomPad: ctx.num(child(node, 'bottompad'), where),
  };
}

function parseLine(ctx: Ctx, node: XNode, where: string): LineElement | null {
  const req = (tag: string): number | null => {
    const c = child(node, tag);
    return c ? Math.trunc(ctx.num(c, where)) : null;
  };
  const x1 = req('xstart'), y1 = req('ystart'), x2 = req('xend'), y2 = req('yend');
  if (x1 === null || y1 === null || x2 === null || y2 === null) return null;
  return {
    kind: 'line',
    x1, y1, x2, y2,
    width: Math.max(0, ctx.num(child(node, 'weight'), where)),
    color: colorOf(prop(node, 'color')),
    penStyle: Math.trunc(ctx.num(child(node, 'style') ?? prop(node, 'borderstyle'), where, 1)) || 1,
    rotation: ctx.num(prop(node, 'rotation'), where),
  };
}

function parseRectElement(ctx: Ctx, node: XNode, where: string): RectElement | null {
  if (!has(node, 'width') || !has(node, 'height')) return null;
  return {
    kind: 'rect',
    rect: {
      x: Math.trunc(ctx.num(child(node, 'x'), where)),
      y: Math.trunc(ctx.num(child(node, 'y'), where)),
      w: Math.trunc(ctx.num(child(node, 'width'), where)),
      h: Math.trunc(ctx.num(child(node, 'height'), where)),
    },
    width: Math.max(0, ctx.num(child(node, 'weight') ?? child(node, 'borderwidth'), where)),
    // Always outlined in <color>; <bordercolor> is ignored (§3).
    color: colorOf(child(node, 'color')),
    bgcolor: colorOf(child(node, 'bgcolor')),
    penStyle: Math.trunc(ctx.num(child(node, 'style') ?? child(node, 'borderstyle'), where, 1)) || 1,
    rotation: ctx.num(child(node, 'rotation'), where),
  };
}

function parseImage(ctx: Ctx, node: XNode, where: string): ImageElement | null {
  const rect = rectOf(ctx, node, where);
  if (!rect) return null;
  const map = child(node, 'map');
  const data = dataOf(node);
  let inline: Buffer | null = null;
  if (map) {
    inline = uudecode(map.text);
    if (!inline) ctx.fail(where, '<map> holds no uuencoded image (it needs a "begin" line; base64 is not what OpenRPT stores)');
  } else if (!data) {
    return null;
  }
  const mode = (childText(node, 'mode') ?? 'clip').toLowerCase() === 'stretch' ? 'stretch' : 'clip';
  return { kind: 'image', rect, mode, inline, data: inline ? null : data, rotation: ctx.num(prop(node, 'rotation'), where) };
}

function parseBarcode(ctx: Ctx, node: XNode, where: string): BarcodeElement | null {
  const rect = rectOf(ctx, node, where);
  const data = dataOf(node);
  if (!rect || !data) return null;
  const align: HAlign = has(node, 'center') || has(node, 'hcenter') ? 'center' : has(node, 'right') ? 'right' : 'left';
  const nbw = ctx.num(child(node, 'narrowBarWidth'), where, 0.01);
  return {
    kind: 'barcode',
    rect,
    format: (childText(node, 'format') || '3of9').trim(),
    align,
    narrowBarWidth: nbw > 0 ? nbw : 0.01,
    data,
    rotation: ctx.num(prop(node, 'rotation'), where),
  };
}

function parseWatermark(ctx: Ctx, node: XNode): WatermarkDef {
  const where = 'watermark';
  const text = childText(node, 'text');
  return {
    text: text !== undefined && text !== '' ? text : null,
    data: dataOf(node),
    font: has(node, 'font') ? fontOf(ctx, node, where) : null,
    opacity: Math.max(0, Math.min(255, ctx.num(child(node, 'opacity'), `${where} <opacity>`, 25))),
  };
}

function parseBackground(ctx: Ctx, node: XNode): BackgroundDef | null {
  const where = 'background';
  const img = child(node, 'image') ?? child(node, 'map');
  const inline = img ? uudecode(img.text) : null;
  const data = dataOf(node);
  if (!inline && !data) return null;
  const r = child(node, 'rect');
  return {
    inline,
    data: inline ? null : data,
    mode: (childText(node, 'mode') ?? 'clip').toLowerCase() === 'clip' ? 'clip' : 'stretch',
    opacity: Math.max(0, Math.min(255, ctx.num(child(node, 'opacity'), `${where} <opacity>`, 25))),
    rect: r
      ? { x: ctx.num(child(r, 'x'), where), y: ctx.num(child(r, 'y'), where), w: ctx.num(child(r, 'width'), where), h: ctx.num(child(r, 'height'), where) }
      : { x: 0, y: 0, w: 0, h: 0 },
  };
}

function allBands(def: ReportDefinition): SectionDef[] {
  const bands: (SectionDef | null)[] = [def.reportHead, def.reportFoot, ...Object.values(def.pageHeads), ...Object.values(def.pageFoots)];
  for (const s of def.sections) {
    bands.push(s.detail);
    for (const g of s.groups) bands.push(g.head, g.foot);
  }
  return bands.filter((b): b is SectionDef => b !== null);
}

function collectTracked(def: ReportDefinition): DataRef[] {
  const seen = new Map<string, DataRef>();
  for (const band of allBands(def)) {
    for (const el of band.elements) {
      if (el.kind === 'field' && el.trackTotal) seen.set(`${el.data.query}\u0000${el.data.column}`, el.data);
    }
  }
  return [...seen.values()];
}
