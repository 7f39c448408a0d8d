/** What every part of the definition parser shares: the report's name for messages, and reading numbers. */
import type { XNode } from './xmlTree';

/** A definition that cannot be rendered; the message names the report and the element. */
export class DefinitionError extends Error {
  override name = 'DefinitionError';
}

export class Ctx {
  constructor(readonly report: string) {}
  fail(where: string, problem: string): never {
    throw new DefinitionError(`report "${this.report}": ${where}: ${problem}`);
  }
  /** A number in the XML; empty means 0 (as Qt's toDouble), text that is not a number is an error. */
  num(node: XNode | undefined, where: string, dflt = 0): number {
    if (node === undefined) return dflt;
    const t = node.text.trim();
    if (t === '') return dflt;
    const n = Number(t);
    if (!Number.isFinite(n)) this.fail(where, `<${node.tag}> is "${t.slice(0, 40)}", not a number`);
    return n;
  }
}
