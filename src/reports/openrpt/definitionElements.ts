/**
 * The elements of a band (openrpt-reference §3): label, field, text, line, rect, image, barcode, and the
 * report's watermark and background. graph and crosstab are not drawn: parseElement drops them.
 */
import { parseColor } from './colors';
import type { Ctx } from './definitionContext';
import { fontOf } from './definitionFonts';
import { uudecode } from './images';
import type {
  Align, BackgroundDef, BarcodeElement, BoxStyle, DataRef, ElementDef, FieldElement, FieldGrid, HAlign, ImageElement,
  LabelElement, LineElement, Rect, RectElement, TextElement, VAlign, WatermarkDef,
} from './model';
import { child, childText, has, type XNode } from './xmlTree';

const NO_STYLE: BoxStyle = Object.freeze({ color: null, bgcolor: null, borderColor: null, borderWidth: 0, borderStyle: 1, rotation: 0 });

export function parseElement(ctx: Ctx, node: XNode, where: string): ElementDef | null {
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

export function parseWatermark(ctx: Ctx, node: XNode): WatermarkDef {
  const where = 'watermark';
  const text = childText(node, 'text');
  return {
    text: text !== undefined && text !== '' ? text : null,
    data: dataOf(node),
    font: has(node, 'font') ? fontOf(ctx, node, where) : null,
    opacity: Math.max(0, Math.min(255, ctx.num(child(node, 'opacity'), `${where} <opacity>`, 25))),
  };
}

export function parseBackground(ctx: Ctx, node: XNode): BackgroundDef | null {
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
