import { PassThrough } from 'node:stream';
import type MimeNode from 'nodemailer/lib/mime-node';

/**
 * The bytes of a compiled message: what nodemailer's MimeNode.build() gives, without its outer stream.pipeline().
 * In Node 20 every pipeline, when it finishes, aborts an AbortController of its own, and the DOMException that
 * makes (with its stack trace) was the most expensive single step of composing a plain message (issue 17; the
 * content's own pipeline stays). The node streams into one PassThrough, and the message ends with a line break as
 * build()'s last stage makes it. No transforms or DKIM are set on the messages composed here, which build() would
 * also run. test/mail/buildMessage.test.ts compares both over generated messages.
 */
export function buildMessage(node: MimeNode): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    let length = 0;
    out.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
    });
    out.once('end', () => resolve(withLastNewline(Buffer.concat(chunks, length))));
    out.once('error', reject);
    node.stream(out, {}, (err) => (err ? out.destroy(err) : out.end()));
  });
}

/** As nodemailer's LastNewline: a message ends with CRLF (a lone CR at the end gets its LF). */
function withLastNewline(raw: Buffer): Buffer {
  const last = raw.length ? raw[raw.length - 1] : -1;
  if (last === 0x0a) return raw;
  return Buffer.concat([raw, Buffer.from(last === 0x0d ? '\n' : '\r\n')]);
}
