/**
 * Paints laid-out pages into a PDF with pdfkit, one page at a time, straight into the output stream.
 *
 * page_count: OpenRPT patches it once the report is done (§4). Rather than holding every page until then
 * (bufferPages), each page_count box is a reference to a small PDF form XObject whose content — the number — is
 * written at the end. Pages therefore leave memory as soon as they are painted.
 *
 * The same input gives the same bytes: CreationDate/ModDate are fixed, pdfkit derives the file ID from the
 * info dictionary, and images are embedded synchronously with the page that first shows them.
 */
import { createHash } from 'node:crypto';
import { finished } from 'node:stream/promises';
import type PDFDocumentClass from 'pdfkit';
import type { RenderOptions } from './api';
import { isEmbeddableImage } from './images';
import { FontLibrary } from './fonts';
import type { Align, FontSpec } from './model';
import { noFeatures, PdfFonts } from './pdfFonts';
import type { DrawOp, ImageOp, PageOps, PageSink, TextOp } from './ops';
import { wrapText } from './textWrap';

/** 1/100 inch → PDF points. */
const PT = 0.72;
export const DEFAULT_CREATION_DATE = new Date('2000-01-01T00:00:00Z');

/** The pdfkit internals used here (not in its typings): raw object refs, the page's XObjects, images. */
interface PdfRef {
  data: Record<string, unknown>;
  offset?: number;
  write(chunk: string): void;
  end(chunk?: string): void;
  finalize(): void;
}
interface PdfImage {
  width: number;
  height: number;
  obj?: PdfRef;
}
interface PdfInternals {
  ref(data: Record<string, unknown>): PdfRef;
  page: { xobjects: Record<string, PdfRef> };
  openImage(src: Buffer): PdfImage;
}

interface PageCountForm {
  name: string;
  ref: PdfRef;
  op: TextOp;
}

export class PdfPageWriter implements PageSink {
  private readonly doc: PDFKit.PDFDocument;
  private readonly raw: PdfInternals;
  private readonly fonts: PdfFonts;
  /** Keyed by content hash: a logo read from a row is a new Buffer on every page but one image in the PDF. */
  private readonly images = new Map<string, PdfImage | null>();
  private readonly forms = new Map<string, PageCountForm>();
  private readonly pendingEmbeds: Promise<void>[] = [];
  private needDrain = false;
  private outError: Error | null = null;
  private readonly docDone: Promise<void>;
  private readonly widthPt: number;
  private readonly heightPt: number;

  constructor(
    title: string,
    pageWidth: number,
    pageHeight: number,
    private readonly out: NodeJS.WritableStream,
    opts: RenderOptions = {},
  ) {
    this.widthPt = pageWidth * PT;
    this.heightPt = pageHeight * PT;
    const created = opts.creationDate ?? DEFAULT_CREATION_DATE;
    // pdfkit and fontkit cost ~10 MB and ~100 ms to load: only a daemon that renders a report pays for them.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const PDFDocument = require('pdfkit') as typeof PDFDocumentClass;
    this.doc = new PDFDocument({
      autoFirstPage: false,
      compress: true,
      size: [this.widthPt, this.heightPt],
      margin: 0,
      info: {
        Title: title,
        ...(opts.author ? { Author: opts.author } : {}),
        Creator: 'xtconnect',
        Producer: 'xtconnect (pdfkit)',
        CreationDate: created,
        ModDate: created,
      },
    });
    this.raw = this.doc as unknown as PdfInternals;
    this.fonts = new PdfFonts(this.doc as never, opts.fonts ?? new FontLibrary());
    this.doc.on('data', (chunk: Buffer) => {
      if (!this.out.write(chunk)) this.needDrain = true;
    });
    this.out.on('error', (err: Error) => {
      this.outError = err;
    });
    this.docDone = new Promise((resolve, reject) => {
      this.doc.once('end', resolve);
      this.doc.once('error', reject);
    });
  }

  // ---- measuring ---------------------------------------------------------------------------------------

  width(font: FontSpec, text: string): number {
    return this.fonts.width(font, text) / PT;
  }

  // ---- pages -------------------------------------------------------------------------------------------

  async writePage(page: PageOps): Promise<void> {
    if (this.outError) throw this.outError;
    this.doc.addPage({ size: [this.widthPt, this.heightPt], margin: 0 });
    for (const op of page.underlay) this.paint(op);
    // Rects and images first, in reverse order, so they lie beneath; then the rest in order (§3 paint order).
    for (let i = page.ops.length - 1; i >= 0; i--) {
      const op = page.ops[i]!;
      if (op.k === 'rect' || op.k === 'image') this.paint(op);
    }
    for (const op of page.ops) if (op.k !== 'rect' && op.k !== 'image') this.paint(op);
    if (this.pendingEmbeds.length > 0) await Promise.all(this.pendingEmbeds.splice(0));
    if (this.needDrain) {
      this.needDrain = false;
      await drained(this.out);
    }
    if (this.outError) throw this.outError;
  }

  /** Writes the page count into every page_count box, ends the PDF and the output stream. */
  async finish(pageCount: number): Promise<void> {
    for (const form of this.forms.values()) this.writeForm(form, String(pageCount));
    this.doc.end();
    await this.docDone;
    this.out.end();
    await finished(this.out);
  }

  /** After a failure: stop feeding the output; the caller decides what happens to it. */
  abort(): void {
    this.doc.removeAllListeners('data');
  }

  private paint(op: DrawOp): void {
    switch (op.k) {
      case 'text':
        return this.paintText(op);
      case 'line':
        return this.withRotation(op.rotation, op.x1, op.y1, () => {
          this.doc.moveTo(op.x1 * PT, op.y1 * PT).lineTo(op.x2 * PT, op.y2 * PT);
          this.stroke(op.width, op.color, op.penStyle);
        });
      case 'rect':
        return this.withRotation(op.rotation, op.x, op.y, () => {
          if (op.fill) this.doc.rect(op.x * PT, op.y * PT, op.w * PT, op.h * PT).fill(op.fill);
          this.doc.rect(op.x * PT, op.y * PT, op.w * PT, op.h * PT);
          this.stroke(op.width, op.color, op.penStyle);
        });
      case 'image':
        return this.paintImage(op);
      case 'bars':
        return this.withRotation(op.rotation, op.x, op.y, () => {
          for (let i = 0; i < op.bars.length; i += 2) this.doc.rect((op.x + op.bars[i]!) * PT, op.y * PT, op.bars[i + 1]! * PT, op.h * PT);
          this.doc.fill('#000000');
        });
      case 'watermark':
        return this.paintWatermark(op.text, op.font, op.opacity);
    }
  }

  private withRotation(rotation: number, x: number, y: number, body: () => void): void {
    if (!rotation) return body();
    this.doc.save();
    this.doc.rotate(rotation, { origin: [x * PT, y * PT] });
    body();
    this.doc.restore();
  }

  /** Qt pens: width in 1/100 inch (0 = hairline), styles 1 solid, 2 dash, 3 dot, 4 dash-dot, 5 dash-dot-dot. */
  private stroke(width: number, color: string | null, penStyle: number): void {
    const w = width * PT;
    this.doc.lineWidth(w);
    const u = Math.max(w, 1);
    const pattern = penStyle === 2 ? [4, 2] : penStyle === 3 ? [1, 2] : penStyle === 4 ? [4, 2, 1, 2] : penStyle === 5 ? [4, 2, 1, 2, 1, 2] : null;
    if (pattern) this.doc.addContent(`[${pattern.map((p) => (p * u).toFixed(2)).join(' ')}] 0 d`);
    this.doc.stroke(color ?? '#000000');
    if (pattern) this.doc.addContent('[] 0 d');
  }

  private paintText(op: TextOp): void {
    const { x, y, w, h } = op;
    const rotated = op.style.rotation !== 0;
    if (rotated) {
      this.doc.save();
      this.doc.rotate(op.style.rotation, { origin: [x * PT, y * PT] });
    }
    if (op.style.bgcolor) this.doc.rect(x * PT, y * PT, w * PT, h * PT).fill(op.style.bgcolor);
    if (op.pageCount) {
      this.placeForm(op);
    } else if (op.text !== '') {
      this.drawTextBox(op);
    }
    if (op.style.borderWidth > 0) {
      this.doc.rect(x * PT, y * PT, w * PT, h * PT);
      this.stroke(op.style.borderWidth, op.style.borderColor, op.style.borderStyle);
    }
    if (rotated) this.doc.restore();
  }

  private drawTextBox(op: TextOp): void {
    const primary = this.fonts.primary(op.font).font;
    const size = op.font.size;
    const lines = op.wrap ? wrapText(this, op.font, op.text, op.w) : op.text.replace(/\r\n?/g, '\n').split('\n');
    const lineH = primary.lineHeight(size) / PT;
    const blockH = lines.length * lineH;
    const top = op.align.v === 'top' ? op.y : op.align.v === 'bottom' ? op.y + op.h - blockH : op.y + (op.h - blockH) / 2;
    const runs = lines.map((l) => (l === '' ? [] : this.fonts.runs(op.font, l)));
    const widths = runs.map((rs) => rs.reduce((sum, r) => sum + r.width, 0) / PT);
    // Qt clips a field's text to its box; clipping costs page content, so only boxes that overflow get a clip.
    const clip = blockH > op.h + 0.5 || widths.some((lw) => lw > op.w + 0.5);
    if (clip) {
      this.doc.save();
      this.doc.rect(op.x * PT, op.y * PT, op.w * PT, op.h * PT).clip();
    }
    this.doc.fontSize(size).fillColor(op.color ?? op.style.color ?? '#000000');
    for (let i = 0; i < lines.length; i++) {
      // Every run of a line shares the first font's baseline, whatever the ascender of the font that draws it.
      const baseline = (top + i * lineH) * PT + (primary.ascender / 1000) * size;
      let x = alignX(op.align, op.x, op.w, widths[i]!) * PT;
      for (const r of runs[i]!) {
        this.doc.font(r.key).text(r.text, x, baseline - (r.font.ascender / 1000) * size, { lineBreak: false, features: noFeatures() as never });
        x += r.width;
      }
    }
    if (clip) this.doc.restore();
  }

  private image(bytes: Buffer): PdfImage | null {
    const hash = createHash('sha1').update(bytes).digest('hex');
    if (this.images.has(hash)) return this.images.get(hash)!;
    let img: PdfImage | null = null;
    if (isEmbeddableImage(bytes)) {
      try {
        img = this.raw.openImage(bytes);
      } catch {
        img = null; // a damaged image draws nothing rather than failing the whole report
      }
    }
    // Per-row images (item pictures) would grow the cache with the report; keep it small. An image seen again
    // after eviction is embedded again, which costs file size, not correctness.
    if (this.images.size >= 16) this.images.delete(this.images.keys().next().value!);
    this.images.set(hash, img);
    return img;
  }

  private paintImage(op: ImageOp): void {
    const img = this.image(op.bytes);
    if (!img) return;
    this.doc.save();
    if (op.rotation) this.doc.rotate(op.rotation, { origin: [op.x * PT, op.y * PT] });
    if (op.opacity < 1) this.doc.opacity(op.opacity);
    const x = op.x * PT;
    const y = op.y * PT;
    this.doc.rect(x, y, op.w * PT, op.h * PT).clip();
    const embedded = img.obj !== undefined;
    if (op.mode === 'stretch') {
      // Fitted inside the rect, aspect kept, anchored top-left.
      this.doc.image(img as never, x, y, { fit: [op.w * PT, op.h * PT] });
    } else {
      // Clip mode: natural size at 150 dpi from the top-left corner, cropped to the rect.
      this.doc.image(img as never, x, y, { width: (img.width / 150) * 72, height: (img.height / 150) * 72 });
    }
    this.doc.restore();
    if (!embedded) this.awaitEmbed(img);
  }

  /**
   * pdfkit finishes PNGs with transparency asynchronously (it splits the alpha channel on zlib's thread pool);
   * waiting for that before the next page keeps the object order, and so the bytes, the same on every run.
   */
  private awaitEmbed(img: PdfImage): void {
    const obj = img.obj;
    if (!obj || obj.offset !== undefined) return;
    this.pendingEmbeds.push(
      new Promise<void>((resolve) => {
        const original = obj.finalize.bind(obj);
        obj.finalize = () => {
          original();
          resolve();
        };
      }),
    );
  }

  private paintWatermark(text: string, font: FontSpec, opacity: number): void {
    const { key, font: f } = this.fonts.primary(font);
    const diagonal = Math.hypot(this.widthPt, this.heightPt);
    const atOne = f.widthOfString(text, 1, noFeatures());
    if (atOne <= 0) return;
    // Not determined by the reference: the text runs corner to corner over 80% of the diagonal, capped.
    const size = Math.min((diagonal * 0.8) / atOne, 200);
    const angle = (Math.atan2(this.heightPt, this.widthPt) * 180) / Math.PI;
    this.doc.save();
    this.doc.fillOpacity(opacity);
    this.doc.rotate(-angle, { origin: [this.widthPt / 2, this.heightPt / 2] });
    const tw = f.widthOfString(text, size, noFeatures());
    this.doc.font(key).fontSize(size).fillColor('#000000');
    this.doc.text(text, this.widthPt / 2 - tw / 2, this.heightPt / 2 - f.lineHeight(size) / 2, { lineBreak: false, features: noFeatures() as never });
    this.doc.restore();
  }

  // ---- page_count forms --------------------------------------------------------------------------------

  private placeForm(op: TextOp): void {
    const formKey = `${this.fonts.primary(op.font).key}|${op.font.size}|${op.w}|${op.h}|${op.align.h}${op.align.v}|${op.color ?? op.style.color ?? ''}`;
    let form = this.forms.get(formKey);
    if (!form) {
      const font = this.fonts.primary(op.font).font;
      const ref = this.raw.ref({
        Type: 'XObject',
        Subtype: 'Form',
        BBox: [0, 0, op.w * PT, op.h * PT],
        Resources: { Font: { [font.id]: font.ref() } },
      });
      form = { name: `PC${this.forms.size + 1}`, ref, op };
      this.forms.set(formKey, form);
    }
    this.raw.page.xobjects[form.name] = form.ref;
    // pdfkit's user space runs top-down; the form's own space runs bottom-up from the box's bottom-left.
    const n = (v: number): string => (Math.round(v * 1000) / 1000).toString();
    this.doc.addContent(`q 1 0 0 -1 ${n(op.x * PT)} ${n((op.y + op.h) * PT)} cm /${form.name} Do Q`);
  }

  private writeForm(form: PageCountForm, text: string): void {
    const { op } = form;
    const font = this.fonts.primary(op.font).font;
    const size = op.font.size;
    const w = op.w * PT;
    const h = op.h * PT;
    const tw = font.widthOfString(text, size, noFeatures());
    const lh = font.lineHeight(size);
    const tx = op.align.h === 'left' ? 0 : op.align.h === 'right' ? w - tw : (w - tw) / 2;
    const top = op.align.v === 'top' ? 0 : op.align.v === 'bottom' ? h - lh : (h - lh) / 2;
    const baseline = h - (top + (font.ascender / 1000) * size);
    const rgb = hexToRgb(op.color ?? op.style.color ?? '#000000');
    const n = (v: number): string => (Math.round(v * 1000) / 1000).toString();
    // An embedded font is addressed by glyph ids; encoding the digits also puts them into the font's subset.
    const [glyphs] = font.encode(text, noFeatures());
    form.ref.end(`${rgb} rg BT /${font.id} ${n(size)} Tf ${n(tx)} ${n(baseline)} Td <${glyphs.join('')}> Tj ET`);
  }
}

/** Waits until the output takes more, without leaving listeners behind on streams that live long. */
function drained(out: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (err?: Error): void => {
      out.off('drain', onDrain);
      out.off('close', onDrain);
      out.off('error', settle);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = (): void => settle();
    out.on('drain', onDrain);
    out.on('close', onDrain);
    out.on('error', settle);
  });
}

function alignX(align: Align, x: number, w: number, textWidth: number): number {
  if (align.h === 'right') return x + w - textWidth;
  if (align.h === 'center') return x + (w - textWidth) / 2;
  return x;
}

function hexToRgb(hex: string): string {
  const v = Number.parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255].map((c) => (c / 255).toFixed(3)).join(' ');
}
