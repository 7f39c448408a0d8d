/**
 * RFC 2047 encoded words ("=?UTF-8?B?w7w=?=") decoded strictly: a word whose encoding is broken (not base64, a bad
 * "=XX" escape), whose charset is unknown, or whose bytes are not valid in its charset keeps its raw text. A sender
 * named "Broken =?UTF-8?B?not base64!!?=" stays so, instead of becoming a contact named with replacement characters.
 */
const WORD = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;

interface Word {
  start: number;
  end: number;
  raw: string;
  charset: string;
  bytes: Buffer | null;
}

function wordBytes(encoding: string, text: string): Buffer | null {
  if (encoding.toUpperCase() === 'B') return BASE64.test(text) ? Buffer.from(text, 'base64') : null;
  // Q: "_" is a space, "=XX" a byte; any other "=" is broken.
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '_') out.push(0x20);
    else if (c === '=') {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
      out.push(parseInt(hex, 16));
      i += 2;
    } else {
      const code = c.charCodeAt(0);
      if (code > 0x7e || code < 0x21) return null;
      out.push(code);
    }
  }
  return Buffer.from(out);
}

/** Decodes bytes in a charset, or null when the charset is unknown or the bytes are not valid in it. */
function decodeBytes(bytes: Buffer, charset: string): string | null {
  const cs = charset.replace(/\*.*$/, ''); // RFC 2231 language suffix: "UTF-8*en"
  try {
    // The WHATWG decoders (every charset mail uses in practice); fatal: invalid bytes throw instead of becoming U+FFFD.
    return new TextDecoder(cs, { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

/** The header text with every valid encoded word decoded; broken ones are left exactly as written. */
export function decodeHeaderWords(text: string): string {
  if (!text.includes('=?')) return text;
  const words: Word[] = [];
  for (const m of text.matchAll(WORD)) {
    words.push({ start: m.index!, end: m.index! + m[0].length, raw: m[0], charset: m[1]!, bytes: wordBytes(m[2]!, m[3]!) });
  }
  let out = '';
  let pos = 0;
  for (let i = 0; i < words.length; ) {
    // A run of adjacent words (only whitespace between them) in one charset is decoded as one byte string: a
    // multi-byte character may be split across two words.
    let j = i;
    while (j + 1 < words.length && /^\s*$/.test(text.slice(words[j]!.end, words[j + 1]!.start)) &&
      words[j + 1]!.charset.toLowerCase() === words[i]!.charset.toLowerCase() && words[j]!.bytes && words[j + 1]!.bytes) j++;
    const run = words.slice(i, j + 1);
    out += text.slice(pos, run[0]!.start);
    const decoded = run.every((w) => w.bytes) ? decodeBytes(Buffer.concat(run.map((w) => w.bytes!)), run[0]!.charset) : null;
    out += decoded ?? text.slice(run[0]!.start, run[run.length - 1]!.end);
    pos = run[run.length - 1]!.end;
    // Whitespace between this run and a next encoded word is dropped (RFC 2047 6.2) when both decoded.
    const nextWord = words[j + 1];
    if (decoded !== null && nextWord && /^\s*$/.test(text.slice(pos, nextWord.start)) && nextWord.bytes &&
      decodeBytes(nextWord.bytes, nextWord.charset) !== null) pos = nextWord.start;
    i = j + 1;
  }
  return out + text.slice(pos);
}
