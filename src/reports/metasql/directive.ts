/**
 * What one `<? … ?>` tag says. Keywords and function names ignore case; parameter names keep it. Functions take
 * quoted or bare arguments (`value("x")`, `value(x)`, `exists x`); only the first argument counts.
 */

export type FunctionName = 'value' | 'literal' | 'exists' | 'reexists' | 'isfirst' | 'islast';

export interface Call {
  fn: FunctionName;
  arg: string;
  /** reExists only: compiled once, when the query is parsed. */
  re?: RegExp;
}

export type Condition =
  | { op: 'call'; call: Call }
  | { op: 'not'; a: Condition }
  | { op: 'and' | 'or'; a: Condition; b: Condition };

export type Directive =
  | { kind: 'if' | 'elseif'; cond: Condition }
  | { kind: 'else' | 'endif' | 'endforeach' }
  | { kind: 'foreach'; name: string }
  | { kind: 'break' | 'continue'; levels: number }
  | { kind: 'call'; call: Call };

/** A tag that cannot be understood; the parser adds the query name, line and tag. */
export class TagProblem extends Error {}

const FUNCTIONS = new Map<string, FunctionName>([
  ['value', 'value'],
  ['literal', 'literal'],
  ['exists', 'exists'],
  ['reexists', 'reexists'],
  // The issue calls it reExp; OpenRPT only knows reExists.
  ['reexp', 'reexists'],
  ['isfirst', 'isfirst'],
  ['islast', 'islast'],
]);

type Token = { t: 'word' | 'str'; v: string } | { t: '(' } | { t: ')' } | { t: ',' };

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) i++;
    else if (c === '(' || c === ')' || c === ',') {
      out.push({ t: c });
      i++;
    } else if (c === '"' || c === "'") {
      let v = '';
      let j = i + 1;
      while (j < text.length && text[j] !== c) {
        if (text[j] === '\\' && j + 1 < text.length) j++;
        v += text[j];
        j++;
      }
      if (j >= text.length) throw new TagProblem(`quoted argument ${text.slice(i)} is never closed`);
      out.push({ t: 'str', v });
      i = j + 1;
    } else {
      let j = i;
      while (j < text.length && !/[\s(),"']/.test(text[j])) j++;
      out.push({ t: 'word', v: text.slice(i, j) });
      i = j;
    }
  }
  return out;
}

class Tokens {
  private pos = 0;
  constructor(private readonly list: Token[]) {}
  peek(): Token | undefined {
    return this.list[this.pos];
  }
  next(): Token | undefined {
    return this.list[this.pos++];
  }
  atEnd(): boolean {
    return this.pos >= this.list.length;
  }
  isKeyword(word: string): boolean {
    const t = this.peek();
    return t !== undefined && t.t === 'word' && t.v.toLowerCase() === word;
  }
}

function describe(t: Token): string {
  return t.t === 'word' ? t.v : t.t === 'str' ? JSON.stringify(t.v) : `"${t.t}"`;
}

/**
 * The arguments after a function or block name: `( a, b )` or one bare/quoted word. OpenRPT tolerated a missing
 * `)` at the end of the tag, and a real xTuple query (incidents-detail) relies on it, so we do too.
 */
function readArgs(tokens: Tokens): Array<{ v: string; quoted: boolean }> {
  const args: Array<{ v: string; quoted: boolean }> = [];
  const first = tokens.peek();
  if (first?.t === '(') {
    tokens.next();
    let expectArg = true;
    for (;;) {
      const t = tokens.next();
      if (t === undefined || t.t === ')') break;
      if (t.t === ',') {
        expectArg = true;
        continue;
      }
      if (t.t === '(') throw new TagProblem('unexpected "(" in the argument list');
      if (!expectArg) throw new TagProblem(`unexpected ${describe(t)} in the argument list`);
      args.push({ v: t.v, quoted: t.t === 'str' });
      expectArg = false;
    }
  } else if (first && (first.t === 'str' || (first.t === 'word' && !['and', 'or'].includes(first.v.toLowerCase())))) {
    tokens.next();
    args.push({ v: first.v, quoted: first.t === 'str' });
  }
  return args;
}

function readCall(tokens: Tokens, fnWord: string): Call {
  const fn = FUNCTIONS.get(fnWord.toLowerCase());
  if (fn === undefined) throw new TagProblem(`"${fnWord}" is not a MetaSQL function (value, literal, exists, reExists, isFirst, isLast)`);
  const args = readArgs(tokens);
  const arg = args[0]?.v ?? '';
  if (arg === '') throw new TagProblem(`${fnWord}() needs a parameter name`);
  if (fn !== 'reexists') return { fn, arg };
  try {
    return { fn, arg, re: new RegExp(arg) };
  } catch (err) {
    throw new TagProblem(`reExists(${JSON.stringify(arg)}) is not a valid regular expression: ${(err as Error).message}`);
  }
}

// Grammar: or := and ('or' and)* ; and := unary ('and' unary)* ; unary := 'not' unary | '(' or ')' | call
function readOr(tokens: Tokens): Condition {
  let a = readAnd(tokens);
  while (tokens.isKeyword('or')) {
    tokens.next();
    a = { op: 'or', a, b: readAnd(tokens) };
  }
  return a;
}

function readAnd(tokens: Tokens): Condition {
  let a = readUnary(tokens);
  while (tokens.isKeyword('and')) {
    tokens.next();
    a = { op: 'and', a, b: readUnary(tokens) };
  }
  return a;
}

function readUnary(tokens: Tokens): Condition {
  const t = tokens.next();
  if (t === undefined) throw new TagProblem('the condition is missing or incomplete');
  if (t.t === 'word' && t.v.toLowerCase() === 'not') return { op: 'not', a: readUnary(tokens) };
  if (t.t === '(') {
    const inner = readOr(tokens);
    const close = tokens.next();
    if (close?.t !== ')') throw new TagProblem('a "(" in the condition is never closed');
    return inner;
  }
  if (t.t !== 'word') throw new TagProblem(`unexpected ${describe(t)} in the condition`);
  return { op: 'call', call: readCall(tokens, t.v) };
}

function readLevels(tokens: Tokens): number {
  // OpenRPT: `break`, `break 2`, `break(2)`; anything not a positive number means 1.
  const n = Math.trunc(Number(readArgs(tokens)[0]?.v ?? '1'));
  return Number.isFinite(n) && n >= 1 ? n : 1;
}

/** Reads the text between `<?` and `?>`. Throws TagProblem. */
export function readDirective(body: string): Directive {
  const text = body.trim();
  const m = /^[A-Za-z0-9_]+/.exec(text);
  if (!m) throw new TagProblem(text === '' ? 'the tag is empty' : 'the tag does not start with a MetaSQL keyword');
  const word = m[0];
  const keyword = word.toLowerCase();
  const rest = text.slice(word.length);
  const tokens = new Tokens(tokenize(rest));
  const noMore = (what: string): void => {
    const t = tokens.peek();
    if (t !== undefined) throw new TagProblem(`unexpected ${describe(t)} after ${what}`);
  };
  switch (keyword) {
    case 'if':
    case 'elseif': {
      if (tokens.atEnd()) throw new TagProblem(`${keyword} needs a condition, such as exists("name")`);
      const cond = readOr(tokens);
      noMore('the condition');
      return { kind: keyword, cond };
    }
    case 'else':
      // `<? else if … ?>` was silently a plain else in OpenRPT; say so instead.
      if (tokens.isKeyword('if')) throw new TagProblem('write "elseif" as one word: "else if" is not a MetaSQL tag');
      noMore('else');
      return { kind: 'else' };
    case 'endif':
    case 'endforeach':
      noMore(keyword);
      return { kind: keyword };
    case 'foreach': {
      const args = readArgs(tokens);
      if (args.length === 0 || !args[0].quoted || args[0].v === '') {
        throw new TagProblem('foreach needs a quoted list parameter name, such as foreach("ids")');
      }
      return { kind: 'foreach', name: args[0].v };
    }
    case 'break':
    case 'continue':
      return { kind: keyword, levels: readLevels(tokens) };
    default:
      if (!FUNCTIONS.has(keyword)) {
        throw new TagProblem(`"${word}" is not a MetaSQL tag or function`);
      }
      return { kind: 'call', call: readCall(tokens, word) };
  }
}
