/**
 * Image bytes as OpenRPT finds them: inline `<map>` text and text columns are uuencoded (xTuple's `image`
 * table stores `begin 644 name` blocks, not base64); a bytea column arrives raw.
 */

/** Decodes a uuencoded block; null when the text has no `begin` line (OpenRPT then treats it as a file name). */
export function uudecode(text: string): Buffer | null {
  const lines = text.split(/\r?\n/);
  let i = lines.findIndex((l) => /^begin\s+[0-7]+\s/.test(l.trimStart()) || /^begin\s+[0-7]+$/.test(l.trim()));
  if (i < 0) return null;
  const out: number[] = [];
  for (i += 1; i < lines.length; i++) {
    const line = lines[i]!.replace(/\s+$/, '');
    if (line === 'end' || line.length === 0) break;
    const n = (line.charCodeAt(0) - 32) & 63;
    if (n === 0) break;
    const at = (q: number): number => (q < line.length ? (line.charCodeAt(q) - 32) & 63 : 0);
    // Characters missing at the end (trailing spaces stripped by an editor) decode as zero bits.
    for (let g = 0, got = 0; got < n; g++) {
      const p = 1 + g * 4;
      const c0 = at(p), c1 = at(p + 1), c2 = at(p + 2), c3 = at(p + 3);
      const triple = [((c0 << 2) | (c1 >> 4)) & 255, ((c1 << 4) | (c2 >> 2)) & 255, ((c2 << 6) | c3) & 255];
      for (let k = 0; k < 3 && got < n; k++, got++) out.push(triple[k]!);
    }
  }
  return out.length > 0 ? Buffer.from(out) : null;
}

/** Encodes bytes as a uuencoded block (used by tests and for round trips). */
export function uuencode(bytes: Buffer, name = 'image.png'): string {
  const enc = (v: number): string => String.fromCharCode(v === 0 ? 96 : v + 32);
  const lines = [`begin 644 ${name}`];
  for (let off = 0; off < bytes.length; off += 45) {
    const chunk = bytes.subarray(off, off + 45);
    let line = enc(chunk.length);
    for (let i = 0; i < chunk.length; i += 3) {
      const a = chunk[i]!;
      const b = chunk[i + 1] ?? 0;
      const c = chunk[i + 2] ?? 0;
      line += enc(a >> 2) + enc(((a << 4) | (b >> 4)) & 63) + enc(((b << 2) | (c >> 6)) & 63) + enc(c & 63);
    }
    lines.push(line);
  }
  lines.push('`', 'end', '');
  return lines.join('\n');
}

/**
 * The bytes of an image taken from a row value: bytea raw, text uudecoded. OpenRPT would also read a text
 * value without a `begin` line as a file path on the rendering machine; a server must not open files named by
 * database content, so that case draws nothing.
 */
export function imageBytesOf(value: unknown): Buffer | null {
  if (Buffer.isBuffer(value)) return value.length > 0 ? value : null;
  if (value instanceof Uint8Array) return value.length > 0 ? Buffer.from(value) : null;
  if (typeof value === 'string' && value.length > 0) return uudecode(value);
  return null;
}

/** pdfkit embeds PNG and JPEG only; anything else (GIF, BMP) is skipped rather than failing the report. */
export function isEmbeddableImage(bytes: Buffer): boolean {
  const png = bytes.length > 8 && bytes.readUInt32BE(0) === 0x89504e47 && bytes.readUInt32BE(4) === 0x0d0a1a0a;
  const jpeg = bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  return png || jpeg;
}
