import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * The shape of src/ as docs/architecture.md describes it: small modules, no import cycles, and lower layers that
 * never reach up (a database helper importing a handler, a report delivery importing the handler registry). These
 * read the real import graph with TypeScript's own resolver, so a new file is covered without a list to update.
 */

const SRC = path.resolve(__dirname, '..', '..', 'src');
const MAX_LINES = 450;

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

const files = sourceFiles(SRC);
const options: ts.CompilerOptions = { module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10 };

/** Value imports only: `import type` does not exist at run time and cannot make a load-order cycle. */
function imports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  const specs: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly && ts.isStringLiteral(node.moduleSpecifier)) {
      const named = node.importClause?.namedBindings;
      const allTypes = !node.importClause?.name && named && ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
      if (!allTypes) specs.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && !node.isTypeOnly && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      specs.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      // import('x') is loaded on first use, after every module has finished loading: not a cycle.
      return;
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return specs
    .filter((s) => s.startsWith('.'))
    .map((s) => ts.resolveModuleName(s, file, options, ts.sys).resolvedModule?.resolvedFileName)
    .filter((r): r is string => !!r && r.startsWith(SRC) && !r.endsWith('.d.ts'));
}

const graph = new Map(files.map((f) => [f, imports(f)]));
const rel = (f: string): string => path.relative(SRC, f);

describe('src/ module structure', () => {
  it(`has no source file over ${MAX_LINES} lines`, () => {
    const long = files
      .map((f) => ({ f: rel(f), n: fs.readFileSync(f, 'utf8').split('\n').length }))
      .filter((x) => x.n > MAX_LINES)
      .map((x) => `${x.f} (${x.n})`);
    expect(long).toEqual([]);
  });

  it('has no import cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const walk = (f: string): void => {
      state.set(f, 'open');
      stack.push(f);
      for (const g of graph.get(f) ?? []) {
        if (state.get(g) === 'open') cycles.push([...stack.slice(stack.indexOf(g)), g].map(rel).join(' → '));
        else if (!state.has(g)) walk(g);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of files) if (!state.has(f)) walk(f);
    expect(cycles).toEqual([]);
  });

  it('keeps lower layers from importing higher ones', () => {
    // Each folder may not import from the folders listed for it.
    const forbidden: Record<string, string[]> = {
      db: ['daemon', 'handlers', 'cli', 'console', 'service', 'reports', 'sync', 'transfer', 'mail'],
      handlers: ['daemon', 'cli', 'console'],
      reports: ['handlers', 'daemon', 'cli', 'console'],
      mail: ['handlers', 'daemon', 'cli', 'console', 'reports'],
      transfer: ['handlers', 'daemon', 'cli', 'console', 'reports'],
      sync: ['handlers', 'daemon', 'cli', 'console'],
      schedule: ['handlers', 'daemon', 'cli', 'console'],
      daemon: ['cli', 'console'],
      jobs: ['handlers', 'daemon', 'cli', 'console'],
      purge: ['handlers', 'daemon', 'cli', 'console'],
      config: ['handlers', 'daemon', 'cli', 'console'],
    };
    const bad: string[] = [];
    for (const [f, deps] of graph) {
      const layer = rel(f).split(path.sep)[0]!;
      for (const d of deps) {
        const target = rel(d).split(path.sep)[0]!;
        if (forbidden[layer]?.includes(target)) bad.push(`${rel(f)} imports ${rel(d)}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
