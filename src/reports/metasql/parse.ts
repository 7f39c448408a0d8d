import { MetaSqlSyntaxError, tagForMessage } from './errors';
import { readDirective, TagProblem, type Call, type Condition } from './directive';
import { splitTags } from './scan';

export type Node =
  | { kind: 'text'; text: string }
  | { kind: 'call'; call: Call }
  | { kind: 'if'; branches: Array<{ cond: Condition; body: Node[] }>; otherwise: Node[] | null }
  | { kind: 'foreach'; name: string; body: Node[] }
  | { kind: 'jump'; isContinue: boolean; levels: number };

export interface MetaSqlTemplate {
  readonly name: string | null;
  /** @internal The parsed tree; callers only hand the template to bindMetaSql. */
  readonly nodes: readonly Node[];
  /** What the parser let pass that xTuple let pass too (a block left open at the end), for the log. */
  readonly warnings: readonly string[];
}

interface OpenBlock {
  node: Extract<Node, { kind: 'if' | 'foreach' }>;
  /** Where new nodes go: the body of the current branch. */
  body: Node[];
  tag: string;
  line: number;
  sawElse: boolean;
}

function appendText(body: Node[], text: string): void {
  const last = body[body.length - 1];
  if (last?.kind === 'text') last.text += text;
  else body.push({ kind: 'text', text });
}

/** Parses MetaSQL once into a tree that bindMetaSql fills in for each parameter set. */
export function parseMetaSql(source: string, name: string | null = null): MetaSqlTemplate {
  const root: Node[] = [];
  const open: OpenBlock[] = [];
  const current = (): Node[] => (open.length > 0 ? open[open.length - 1].body : root);

  for (const span of splitTags(source, name)) {
    if (span.kind !== 'tag') {
      appendText(current(), source.slice(span.start, span.end));
      continue;
    }
    const tag = tagForMessage(source.slice(span.start, span.end));
    const fail = (problem: string): never => {
      throw new MetaSqlSyntaxError(name, span.line, tag, problem);
    };
    let d;
    try {
      d = readDirective(source.slice(span.start + 2, span.end - 2));
    } catch (err) {
      if (err instanceof TagProblem) fail(`${tag}: ${err.message}`);
      throw err;
    }
    const top = open[open.length - 1];
    const openedAt = top ? ` (the open block is ${top.tag} from line ${top.line})` : '';
    switch (d.kind) {
      case 'if': {
        const node: Node = { kind: 'if', branches: [{ cond: d.cond, body: [] }], otherwise: null };
        current().push(node);
        open.push({ node, body: node.branches[0].body, tag, line: span.line, sawElse: false });
        break;
      }
      case 'elseif':
      case 'else': {
        if (top?.node.kind !== 'if') fail(`${tag} without a matching <? if ?>${openedAt}`);
        if (top.sawElse) fail(`${tag} after the <? else ?> of ${top.tag} from line ${top.line}`);
        const node = top.node as Extract<Node, { kind: 'if' }>;
        if (d.kind === 'elseif') {
          const branch = { cond: d.cond, body: [] as Node[] };
          node.branches.push(branch);
          top.body = branch.body;
        } else {
          node.otherwise = [];
          top.body = node.otherwise;
          top.sawElse = true;
        }
        break;
      }
      case 'endif':
        if (top?.node.kind !== 'if') fail(`${tag} without a matching <? if ?>${openedAt}`);
        open.pop();
        break;
      case 'foreach': {
        const node: Node = { kind: 'foreach', name: d.name, body: [] };
        current().push(node);
        open.push({ node, body: node.body, tag, line: span.line, sawElse: false });
        break;
      }
      case 'endforeach':
        if (top?.node.kind !== 'foreach') fail(`${tag} without a matching <? foreach ?>${openedAt}`);
        open.pop();
        break;
      case 'break':
      case 'continue': {
        const loops = open.filter((b) => b.node.kind === 'foreach').length;
        if (loops === 0) fail(`${tag} outside a <? foreach ?>`);
        if (d.levels > loops) fail(`${tag} leaves ${d.levels} loops but is inside only ${loops}`);
        current().push({ kind: 'jump', isContinue: d.kind === 'continue', levels: d.levels });
        break;
      }
      case 'call':
        current().push({ kind: 'call', call: d.call });
        break;
    }
  }

  // xTuple's MetaSQL closes blocks still open at the end of the text, and stock statements rely on it
  // (cashReceipts-detail ends inside its <? else ?>). So do we, and say so.
  const warnings = open.reverse().map((b) => {
    const end = b.node.kind === 'if' ? '<? endif ?>' : '<? endforeach ?>';
    return `MetaSQL${name === null ? '' : ` "${name}"`} line ${b.line}: ${b.tag} has no matching ${end}; it is closed at the end of the text, as xTuple does`;
  });
  return { name, nodes: root, warnings };
}
