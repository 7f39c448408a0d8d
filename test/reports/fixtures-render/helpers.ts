/** Shared pieces of the renderer tests: fixture lookup, rendering into memory, PNG making, order checks. */
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { deflateSync } from 'node:zlib';
import { sharedFixturesDir } from '../../support/sharedFixtures';
import { parseDefinition, renderPdf, type RenderOptions, type ReportData, type ReportDefinition } from '../../../src/reports/openrpt';


export const FIXTURE_NAMES = [
  'ARAging', 'ClassCodesMasterList', 'CreditMemo', 'GLTransactions', 'Image', 'PurchaseOrder', 'Quote', 'UOMs', 'itemLabel', 'items',
] as const;

export function fixtureXml(name: string): string {
  return fs.readFileSync(path.join(sharedFixturesDir('openrpt'), `${name}.xml`), 'utf8');
}

export function loadFixture(name: string): ReportDefinition {
  return parseDefinition(fixtureXml(name), name);
}

/** A definition of this test folder (test/reports/fixtures-render/*.xml). */
export function localXml(name: string): string {
  return fs.readFileSync(path.join(__dirname, `${name}.xml`), 'utf8');
}

export const FIXED_NOW = new Date(2026, 10, 26, 9, 30, 15);

export class MemorySink extends Writable {
  readonly chunks: Buffer[] = [];
  bytes = 0;
  constructor(private readonly keep = true) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.bytes += chunk.length;
    if (this.keep) this.chunks.push(chunk);
    done();
  }
  get buffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

export async function renderToBuffer(def: ReportDefinition, data: ReportData, opts: RenderOptions = {}): Promise<{ pdf: Buffer; pages: number }> {
  const sink = new MemorySink();
  const { pages } = await renderPdf(def, data, sink, { now: FIXED_NOW, ...opts });
  return { pdf: sink.buffer, pages };
}

/**
 * Asserts that `expected` strings occur in `items` in this order (each an exact item, or a part of one when
 * `partial`); reports the first one missing with what came after the previous match.
 */
export function expectInOrder(items: readonly string[], expected: readonly string[], partial = false): void {
  let at = 0;
  for (const want of expected) {
    const found = items.findIndex((s, i) => i >= at && (partial ? s.includes(want) : s === want));
    if (found < 0) {
      throw new Error(`expected "${want}" after position ${at} (after "${items[at - 1] ?? '(start)'}"); the rest is: ${JSON.stringify(items.slice(at, at + 40))}`);
    }
    at = found + 1;
  }
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A solid-colour RGB PNG of w x h pixels. */
export function makePng(w: number, h: number, rgb: [number, number, number]): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) raw.set(rgb, y * (w * 3 + 1) + 1 + x * 3);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** How many image XObjects the PDF holds (object dictionaries are not compressed by pdfkit). */
export function imageCount(pdf: Buffer): number {
  return (pdf.toString('latin1').match(/\/Subtype \/Image/g) ?? []).length;
}
