import { JobInputError } from '../errors';
import type { BatchParamRow } from '../db/queries/batch';
import { parseParams } from '../jobs/params';
import type { MetaParams, MetaValue } from './metasql';

/** Parameters that steer delivery (xtconnect_endpoint, xtconnect_format, ...); never passed to the report's queries. */
export const DELIVERY_PREFIX = 'xtconnect_';

/** Qt type names xTuple's client writes for list parameters (QVariant::List and QStringList). */
const LIST_TYPES = new Set(['qstringlist', 'qvariantlist', 'list', 'stringlist']);

export function isListType(type: string | null): boolean {
  return type !== null && LIST_TYPES.has(type.trim().toLowerCase());
}

/**
 * One element of a list as OpenRPT's XVariant writes it: a Qt type name and a value, both quoted. The element's
 * type converts it the way a scalar of that type is converted, so `"int":"3"` binds as the number 3.
 */
function convertElement(batchId: number, name: string, type: string, value: string): MetaValue {
  const row: BatchParamRow = { order: null, name, value, type };
  return parseParams(batchId, [row]).get(name) ?? null;
}

/**
 * Reads `"type":"value","type":"value"` (backslash escapes a quote or a backslash inside the quotes). A value not
 * in that form is taken as plain comma-separated text, which is what a person typing into batchparam writes.
 */
export function parseListValue(batchId: number, name: string, text: string | null): MetaValue[] {
  const field = `parameter "${name}"`;
  if (text === null) return [];
  const s = text.trim();
  if (s === '') return [];
  if (!s.startsWith('"')) return s.split(',').map((v) => v.trim());
  const out: MetaValue[] = [];
  let i = 0;
  const bad = (what: string): never => {
    throw new JobInputError(batchId, field, `is a list but ${what} at character ${i + 1} of ${JSON.stringify(text)}; ` +
      'write it as "type":"value","type":"value" (for example "int":"1","int":"2")');
  };
  const quoted = (): string => {
    if (s[i] !== '"') bad('a quote is missing');
    i++;
    let v = '';
    for (;;) {
      if (i >= s.length) bad('a quote is not closed');
      const ch = s[i]!;
      if (ch === '\\' && i + 1 < s.length) {
        v += s[i + 1];
        i += 2;
      } else if (ch === '"') {
        i++;
        return v;
      } else {
        v += ch;
        i++;
      }
    }
  };
  const spaces = (): void => {
    while (i < s.length && /\s/.test(s[i]!)) i++;
  };
  while (i < s.length) {
    spaces();
    const first = quoted();
    spaces();
    if (s[i] === ':') {
      i++;
      spaces();
      out.push(convertElement(batchId, name, first, quoted()));
    } else {
      // A bare quoted value with no type: text.
      out.push(first);
    }
    spaces();
    if (i < s.length) {
      if (s[i] !== ',') bad('a comma is missing');
      i++;
    }
  }
  return out;
}

export interface ReportParams {
  /** What the report's queries see (MetaSQL value/exists/foreach and the Parameter Query), in batchparam order. */
  report: MetaParams;
  /** xtconnect_* options, as text, keyed without the prefix lower-cased (endpoint, remotedir, format, ...). */
  delivery: Map<string, string | null>;
}

/** A job's batchparam rows, split into report parameters and delivery options. */
export function reportParams(batchId: number, rows: readonly BatchParamRow[]): ReportParams {
  const report = new Map<string, MetaValue>();
  const delivery = new Map<string, string | null>();
  for (const row of rows) {
    const name = row.name?.trim() ?? '';
    if (name.toLowerCase().startsWith(DELIVERY_PREFIX)) {
      delivery.set(name.slice(DELIVERY_PREFIX.length).toLowerCase(), row.value);
      continue;
    }
    if (isListType(row.type)) {
      if (!name) parseParams(batchId, [row]); // the same message as any nameless parameter
      report.set(name, parseListValue(batchId, name, row.value));
    } else {
      const one = parseParams(batchId, [row]);
      for (const [k, v] of one) report.set(k, v);
    }
  }
  return { report, delivery };
}
