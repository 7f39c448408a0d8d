/**
 * What the layout hands the PDF writer: a page as a flat list of draw operations, absolute on the page, in
 * 1/100 inch. Ops share their font and style objects with the definition, so a page costs little to hold.
 */
import type { Align, BoxStyle, FontSpec } from './model';

export interface TextOp {
  k: 'text';
  x: number;
  y: number;
  w: number;
  h: number;
  text: string;
  font: FontSpec;
  align: Align;
  style: BoxStyle;
  /** Wrap at word boundaries inside the box (a field's `<wordwrap/>`). */
  wrap: boolean;
  /** Colour from a `<column>_qtforegroundrole` column; wins over the element's colour. */
  color: string | null;
  /** The text is the page count, known only when the report is done. */
  pageCount: boolean;
}

export interface LineOp {
  k: 'line';
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  width: number;
  color: string | null;
  penStyle: number;
  rotation: number;
}

export interface RectOp {
  k: 'rect';
  x: number;
  y: number;
  w: number;
  h: number;
  width: number;
  color: string | null;
  fill: string | null;
  penStyle: number;
  rotation: number;
}

export interface ImageOp {
  k: 'image';
  x: number;
  y: number;
  w: number;
  h: number;
  bytes: Buffer;
  mode: 'clip' | 'stretch';
  rotation: number;
  /** 0..1; only backgrounds are translucent. */
  opacity: number;
}

export interface BarsOp {
  k: 'bars';
  x: number;
  y: number;
  h: number;
  bars: number[];
  rotation: number;
}

export interface WatermarkOp {
  k: 'watermark';
  text: string;
  font: FontSpec;
  /** 0..1. */
  opacity: number;
}

export type DrawOp = TextOp | LineOp | RectOp | ImageOp | BarsOp | WatermarkOp;

export interface PageOps {
  /** Background image and watermark: beneath everything (§5.11). */
  underlay: DrawOp[];
  /** Everything else, in the order the layout produced it. */
  ops: DrawOp[];
}

/** Text measurement the layout needs for text areas; the PDF writer provides it from the fonts it embeds. */
export interface Measurer {
  /** Width of a single line of text, 1/100 inch. */
  width(font: FontSpec, text: string): number;
}

/** Where finished pages go, one at a time. */
export interface PageSink extends Measurer {
  writePage(page: PageOps): Promise<void>;
}
