import { XMLParser, XMLValidator } from 'fast-xml-parser';

/** A parsed XML element with its element children in document order (document order decides paint order). */
export interface XNode {
  tag: string;
  attrs: Readonly<Record<string, string>>;
  children: XNode[];
  /** The concatenated text directly inside the element, untrimmed. */
  text: string;
}

type Raw = Record<string, unknown>;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  // <sql> keeps its line breaks and indentation; whitespace between elements is ignored below.
  trimValues: false,
  // Entities are decoded below, in one pass: the parser's own pass leaves character references (&#xd; in
  // xTuple's stock queries) as they are unless it also decodes HTML's names, which XML does not have.
  processEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
});

export class XmlSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly col: number,
  ) {
    super(message);
  }
}

/** Parses a whole document into its root element; throws XmlSyntaxError for text that is not well-formed XML. */
export function parseXml(xml: string): XNode | null {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new XmlSyntaxError(valid.err.msg, valid.err.line, valid.err.col);
  const nodes = convert(parser.parse(xml) as Raw[]);
  return nodes[0] ?? null;
}

const REFERENCE = /&(?:#[xX]([0-9a-fA-F]+)|#([0-9]+)|(amp|lt|gt|quot|apos));/g;
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** XML's five entities and its character references, decimal and hexadecimal; anything else stays as written. */
export function decodeXmlText(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(REFERENCE, (all, hex: string | undefined, dec: string | undefined, name: string | undefined) => {
    if (name) return NAMED[name]!;
    const code = hex !== undefined ? Number.parseInt(hex, 16) : Number(dec);
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : all;
  });
}

function decodeAttrs(attrs: Record<string, string> | undefined): Record<string, string> {
  if (!attrs) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) out[k] = decodeXmlText(String(v));
  return out;
}

function convert(raw: Raw[]): XNode[] {
  const out: XNode[] = [];
  for (const item of raw) {
    for (const key of Object.keys(item)) {
      if (key === ':@' || key === '#text') continue;
      const kids = (item[key] as Raw[] | undefined) ?? [];
      let text = '';
      for (const k of kids) if (typeof k['#text'] === 'string' || typeof k['#text'] === 'number') text += String(k['#text']);
      out.push({ tag: key, attrs: decodeAttrs(item[':@'] as Record<string, string> | undefined), children: convert(kids), text: decodeXmlText(text) });
    }
  }
  return out;
}

export function child(node: XNode, tag: string): XNode | undefined {
  return node.children.find((c) => c.tag === tag);
}

export function has(node: XNode, tag: string): boolean {
  return node.children.some((c) => c.tag === tag);
}

/** Trimmed text of a child element, or undefined when there is no such child. */
export function childText(node: XNode, tag: string): string | undefined {
  const c = child(node, tag);
  return c === undefined ? undefined : c.text.trim();
}
