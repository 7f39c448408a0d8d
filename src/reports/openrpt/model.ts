/**
 * The typed form of an OpenRPT report definition. Every length is in 1/100 inch, as in the XML; element
 * coordinates are already truncated to integers, section heights keep their fractions (openrpt-reference §1).
 */

export interface QuerySourceDef {
  name: string;
  sql: string | null;
  mqlGroup: string | null;
  mqlName: string | null;
  loadFromDb: boolean;
}

export type FontFamily = 'Helvetica' | 'Times' | 'Courier';

export interface FontSpec {
  /** The `<face>` as written ("" when none): an administrator's font for it replaces the built-in one (fonts.ts). */
  face: string;
  family: FontFamily;
  bold: boolean;
  italic: boolean;
  /** Points. */
  size: number;
  /** The built-in font of the family and style, e.g. "DejaVuSans-BoldOblique". */
  builtIn: string;
}

export type HAlign = 'left' | 'center' | 'right';
export type VAlign = 'top' | 'center' | 'bottom';

export interface Align {
  h: HAlign;
  v: VAlign;
}

/** Colours are normalised to "#rrggbb" or null (not set). */
export interface BoxStyle {
  color: string | null;
  bgcolor: string | null;
  borderColor: string | null;
  /** 1/100 inch; 0 means no border. */
  borderWidth: number;
  /** Qt pen style: 1 solid, 2 dash, 3 dot, 4 dash-dot, 5 dash-dot-dot. */
  borderStyle: number;
  /** Degrees clockwise about the top-left corner. */
  rotation: number;
}

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface DataRef {
  query: string;
  column: string;
}

interface Boxed {
  rect: Rect;
  font: FontSpec;
  align: Align;
  style: BoxStyle;
}

export interface LabelElement extends Boxed {
  kind: 'label';
  text: string;
}

export interface FieldGrid {
  lines: number;
  columns: number;
  /** 1/100 inch (the XML gives inches). */
  xSpacing: number;
  ySpacing: number;
  leftToRight: boolean;
  triggerPageBreak: boolean;
}

export interface FieldElement extends Boxed {
  kind: 'field';
  data: DataRef;
  /** printf pattern, or the builtin tag when `builtin`. */
  format: string | null;
  builtin: boolean;
  trackTotal: boolean;
  subtotal: boolean;
  wordwrap: boolean;
  grid: FieldGrid | null;
}

export interface TextElement extends Boxed {
  kind: 'text';
  data: DataRef;
  bottomPad: number;
}

export interface LineElement {
  kind: 'line';
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  /** Pen width, 1/100 inch; 0 is a hairline. */
  width: number;
  color: string | null;
  penStyle: number;
  rotation: number;
}

export interface RectElement {
  kind: 'rect';
  rect: Rect;
  width: number;
  color: string | null;
  bgcolor: string | null;
  penStyle: number;
  rotation: number;
}

export interface ImageElement {
  kind: 'image';
  rect: Rect;
  mode: 'clip' | 'stretch';
  /** Decoded bytes of an inline `<map>`; null when the image comes from a data column. */
  inline: Buffer | null;
  data: DataRef | null;
  rotation: number;
}

export interface BarcodeElement {
  kind: 'barcode';
  rect: Rect;
  format: string;
  align: HAlign;
  /** Inches, as in the XML. */
  narrowBarWidth: number;
  data: DataRef;
  rotation: number;
}

export type ElementDef = LabelElement | FieldElement | TextElement | LineElement | RectElement | ImageElement | BarcodeElement;

export interface SectionDef {
  /** Where the section came from, for messages: `pghead (firstpage)`, `group "Customer" foot`, ... */
  where: string;
  height: number;
  /** Everything but text areas, in document order. */
  elements: ElementDef[];
  /** Text areas, in document order; they are laid out after the other elements (§3). */
  textAreas: TextElement[];
}

export interface GroupDef {
  name: string;
  column: string;
  pagebreakAfterFoot: boolean;
  head: SectionDef | null;
  foot: SectionDef | null;
}

export interface DetailSectionDef {
  name: string;
  pagebreakAtEnd: boolean;
  keyQuery: string;
  keyColumn: string;
  groups: GroupDef[];
  detail: SectionDef;
}

/** One slot per marker; the last duplicate wins (§2). */
export interface PageBands {
  first: SectionDef | null;
  odd: SectionDef | null;
  even: SectionDef | null;
  last: SectionDef | null;
  any: SectionDef | null;
}

export interface PageSetup {
  /** The `<size>` name as written, or "Custom". */
  sizeName: string;
  /** Page size after orientation, 1/100 inch. */
  width: number;
  height: number;
  landscape: boolean;
  margins: { top: number; bottom: number; left: number; right: number };
  /** Set in Labels mode (§5.10). */
  labelType: string | null;
}

export interface WatermarkDef {
  text: string | null;
  data: DataRef | null;
  font: FontSpec | null;
  /** 0..255. */
  opacity: number;
}

export interface BackgroundDef {
  inline: Buffer | null;
  data: DataRef | null;
  mode: 'clip' | 'stretch';
  opacity: number;
  rect: Rect;
}

export interface ReportDefinition {
  name: string;
  title: string;
  description: string;
  queries: QuerySourceDef[];
  page: PageSetup;
  reportHead: SectionDef | null;
  reportFoot: SectionDef | null;
  pageHeads: PageBands;
  pageFoots: PageBands;
  sections: DetailSectionDef[];
  watermark: WatermarkDef | null;
  background: BackgroundDef | null;
  /** Every (query, column) with a `<tracktotal>`, each once. */
  trackedColumns: DataRef[];
}
