/**
 * What the memory benches share: the heap read after full collections, the growth per unit by least squares, and
 * the start under --expose-gc (the bench forks itself with it when it was not given). Used by memory.ts and
 * consoleMemory.ts.
 */
import { fork } from 'node:child_process';
import v8 from 'node:v8';
import { heapGrowth } from './heapDiff';
import { fmt, sleep } from './util';

/** Slope of y over x by least squares. */
export function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den ? num / den : NaN;
}

/** process.memoryUsage() after two full collections, with V8's compiled code (part of heapUsed) apart. */
export async function collect(): Promise<NodeJS.MemoryUsage & { code: number }> {
  const gc = (globalThis as { gc?: () => void }).gc!;
  // Twice, with a turn of the event loop between: objects freed by the first collection's finalizers (sockets,
  // timers) go in the second.
  gc();
  await sleep(100);
  gc();
  const code = v8.getHeapSpaceStatistics().filter((sp) => sp.space_name.startsWith('code')).reduce((a, sp) => a + sp.space_used_size, 0);
  return { ...process.memoryUsage(), code };
}

/** Runs `main` in a process with --expose-gc: this one when it has it, else the same script again, with it. */
export function runWithGc(file: string, main: () => Promise<void>): void {
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function') {
    const child = fork(file, process.argv.slice(2), { execArgv: [...process.execArgv, '--expose-gc'], stdio: 'inherit' });
    child.on('exit', (code, sig) => { process.exitCode = code ?? (sig ? 1 : 0); });
  } else {
    main().catch((err) => {
      console.error(err);
      process.exitCode = 1;
    });
  }
}

/** The end of a memory bench's report: what grew between the two heap snapshots, if taken, and the failures. */
export function reportEnd(snapshots: string[], failures: string[]): void {
  if (snapshots.length === 2) {
    console.log(`\nheap snapshots ${snapshots.join(' and ')}; what changed most between them (bytes, objects):`);
    for (const g of heapGrowth(snapshots[0]!, snapshots[1]!)) console.log(`  ${fmt(g.bytes).padStart(10)}  ${fmt(g.count).padStart(8)}  ${g.kind}`);
  }
  for (const f of failures) console.log(`FAILURE: ${f}`);
  if (failures.length) process.exitCode = 1;
}
