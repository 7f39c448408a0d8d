/**
 * What grew between two V8 heap snapshots (v8.writeHeapSnapshot), by kind of node and constructor name: the count
 * and the bytes of the objects themselves (self size). Strings, numbers, compiled code and V8's hidden objects are
 * each one line, so that a leak of the program's own objects stands out from V8's work. Used by memory.ts.
 */
import fs from 'node:fs';

export interface HeapGrowth {
  /** "object Map", "closure onTimeout", "code", "string", ... */
  kind: string;
  count: number;
  bytes: number;
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

const ONE_LINE: Record<string, string> = {
  string: 'string', 'concatenated string': 'string', 'sliced string': 'string', code: 'code', number: 'number', hidden: 'hidden (V8)',
};

function tally(file: string): Map<string, { count: number; bytes: number }> {
  const s = JSON.parse(fs.readFileSync(file, 'utf8')) as Snapshot;
  const fields = s.snapshot.meta.node_fields;
  const width = fields.length;
  const type = fields.indexOf('type');
  const name = fields.indexOf('name');
  const size = fields.indexOf('self_size');
  const types = s.snapshot.meta.node_types[0];
  const out = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < s.nodes.length; i += width) {
    const t = types[s.nodes[i + type]!]!;
    const kind = ONE_LINE[t] ?? `${t} ${s.strings[s.nodes[i + name]!]!.slice(0, 60)}`;
    const e = out.get(kind) ?? { count: 0, bytes: 0 };
    e.count++;
    e.bytes += s.nodes[i + size]!;
    out.set(kind, e);
  }
  return out;
}

/** The kinds whose bytes changed most from `before` to `after`, largest change first. */
export function heapGrowth(before: string, after: string, top = 12): HeapGrowth[] {
  const a = tally(before);
  const b = tally(after);
  const rows: HeapGrowth[] = [];
  for (const kind of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(kind) ?? { count: 0, bytes: 0 };
    const y = b.get(kind) ?? { count: 0, bytes: 0 };
    if (x.count !== y.count || x.bytes !== y.bytes) rows.push({ kind, count: y.count - x.count, bytes: y.bytes - x.bytes });
  }
  return rows.sort((p, q) => Math.abs(q.bytes) - Math.abs(p.bytes)).slice(0, top);
}
