import type { Call, Condition } from './directive';
import type { MetaSqlTemplate, Node } from './parse';
import { splitStatements, type BoundStatement } from './statements';
import { literalText, Placeholders, scalarOf, type MetaParams, type MetaValue } from './values';

/** A break or continue on its way out through `levels` enclosing loops. */
interface Jump {
  levels: number;
  isContinue: boolean;
}

interface State {
  params: MetaParams;
  out: string[];
  placeholders: Placeholders;
  /** Position of each list that a foreach is walking. */
  loops: Map<string, { list: MetaValue[]; index: number }>;
}

function current(s: State, name: string): MetaValue | undefined {
  const loop = s.loops.get(name);
  return loop ? loop.list[loop.index] : s.params.get(name);
}

function isFirst(s: State, name: string): boolean {
  const loop = s.loops.get(name);
  return loop ? loop.index === 0 : true;
}

function isLast(s: State, name: string): boolean {
  const loop = s.loops.get(name);
  if (loop) return loop.index === loop.list.length - 1;
  const v = s.params.get(name);
  return Array.isArray(v) && v.length === 1;
}

/**
 * OpenRPT's rule: a test passes only when the function's result is the text "true". value() becomes a
 * placeholder, never "true", so `if value(...)` is always false; literal() is true only for the value "true".
 */
function test(s: State, call: Call): boolean {
  switch (call.fn) {
    case 'exists':
      return s.params.has(call.arg);
    case 'reexists':
      for (const key of s.params.keys()) if (call.re!.test(key)) return true;
      return false;
    case 'isfirst':
      return isFirst(s, call.arg);
    case 'islast':
      return isLast(s, call.arg);
    case 'literal':
      return literalText(current(s, call.arg)) === 'true';
    case 'value':
      return false;
  }
}

function holds(s: State, c: Condition): boolean {
  switch (c.op) {
    case 'call':
      return test(s, c.call);
    case 'not':
      return !holds(s, c.a);
    case 'and':
      return holds(s, c.a) && holds(s, c.b);
    case 'or':
      return holds(s, c.a) || holds(s, c.b);
  }
}

/**
 * A type name written right before a value: `date <? value("asofDate") ?>` was a typed literal once Qt had
 * pasted `'2024-01-31'` after it. `date $1` is not SQL, so the type becomes a cast of the placeholder.
 */
const TYPED_LITERAL =
  /(?<![\w$."])(date|time|timestamp|timestamptz|interval|integer|int|int2|int4|int8|bigint|smallint|numeric|decimal|text|varchar|bpchar|boolean|bool|real|float4|float8|double\s+precision|(?:timestamp|time)\s+with(?:out)?\s+time\s+zone)\s+$/i;

/** A whole number: pasted into a name, it cannot change the statement. */
const DIGITS = /^[0-9]+$/;

function emitValue(s: State, call: Call): void {
  const v = current(s, call.arg);
  const before = s.out.length > 0 ? s.out[s.out.length - 1]! : '';
  const scalar = scalarOf(v);
  // `AS char<? value("n") ?>` and `charass_alias<? value("n") ?>.charass_value`: Qt pasted 5 to make the name
  // char5. A placeholder cannot be part of a name, so a whole number is written into the name; anything else
  // stays a placeholder (and PostgreSQL refuses it, as it refused Qt's `char'abc'`).
  if (/[A-Za-z0-9_]$/.test(before) && scalar !== null && !(scalar instanceof Date) && typeof scalar !== 'boolean' && DIGITS.test(String(scalar))) {
    s.out.push(String(scalar));
    return;
  }
  const typed = TYPED_LITERAL.exec(before);
  if (typed) {
    s.out[s.out.length - 1] = before.slice(0, typed.index);
    s.out.push(`CAST(${s.placeholders.add(v, call.arg)} AS ${typed[1]!.replace(/\s+/g, ' ')})`);
    return;
  }
  s.out.push(s.placeholders.add(v, call.arg));
}

function emitCall(s: State, call: Call): void {
  if (call.fn === 'value') emitValue(s, call);
  else if (call.fn === 'literal') s.out.push(literalText(current(s, call.arg)));
  // A test used on its own prints its result, as in OpenRPT; SQL reads it as a boolean constant.
  else s.out.push(test(s, call) ? 'true' : 'false');
}

function runForeach(s: State, name: string, body: readonly Node[]): Jump | null {
  const list = s.params.get(name);
  // A scalar or a missing parameter repeats zero times.
  if (!Array.isArray(list) || list.length === 0) return null;
  const saved = s.loops.get(name);
  const pos = { list, index: 0 };
  s.loops.set(name, pos);
  let escaping: Jump | null = null;
  try {
    for (; pos.index < list.length; pos.index++) {
      const jump = run(s, body);
      if (jump === null) continue;
      if (jump.levels > 1) {
        escaping = { levels: jump.levels - 1, isContinue: jump.isContinue };
        break;
      }
      if (!jump.isContinue) break;
    }
  } finally {
    if (saved) s.loops.set(name, saved);
    else s.loops.delete(name);
  }
  return escaping;
}

function run(s: State, nodes: readonly Node[]): Jump | null {
  for (const node of nodes) {
    let jump: Jump | null = null;
    switch (node.kind) {
      case 'text':
        s.out.push(node.text);
        break;
      case 'call':
        emitCall(s, node.call);
        break;
      case 'if': {
        const branch = node.branches.find((b) => holds(s, b.cond));
        const body = branch ? branch.body : node.otherwise;
        if (body) jump = run(s, body);
        break;
      }
      case 'foreach':
        jump = runForeach(s, node.name, node.body);
        break;
      case 'jump':
        jump = { levels: node.levels, isContinue: node.isContinue };
        break;
    }
    if (jump) return jump;
  }
  return null;
}

export interface BoundQuery {
  /** The last statement: the one whose rows the query yields. */
  text: string;
  values: unknown[];
  /** Every statement of the text, in order; all but the last run first, for their effect. */
  statements: BoundStatement[];
  /** Whether one placeholder stands for several uses of a parameter (see Placeholders). */
  shared: boolean;
}

export interface BindOptions {
  /** One placeholder per parameter and value (default true); false gives each use its own. */
  share?: boolean;
}

/**
 * Fills a parsed template with one parameter set. Values go to the server as $1..$n, never into the text;
 * only literal() pastes (that is what it is for), and a word or number glued to a name (see emitValue).
 * Output is trimmed, as OpenRPT did, and split into statements.
 */
export function bindMetaSql(t: MetaSqlTemplate, params: MetaParams, opts: BindOptions = {}): BoundQuery {
  const s: State = { params, out: [], placeholders: new Placeholders(opts.share ?? true), loops: new Map() };
  // The parser refuses break/continue outside a loop or beyond its depth, so no jump reaches this level.
  run(s, t.nodes);
  return finish(s.out.join(''), s.placeholders, t.name);
}

/** Splits bound text into statements and numbers the placeholders of each. */
export function finish(text: string, ph: Placeholders, name: string | null): BoundQuery {
  const statements = splitStatements(text, ph.values, name);
  const last = statements[statements.length - 1] ?? { text: '', values: [] };
  return { text: last.text, values: last.values, statements, shared: ph.shared };
}
