/**
 * GroupedWriter (src/db/groupedWriter.ts): the first item is written at once, items arriving while a write is in
 * flight share the next write, every caller gets its own result, and a failing batch is split so that only the item
 * that fails is rejected. The write here is a function the test releases by hand, so the grouping is exact.
 */
import { GroupedWriter } from '../../src/db/groupedWriter';

interface Pending {
  items: string[];
  release: () => void;
}

/** A write that waits until the test releases it; refuses any batch holding 'bad'. */
function gatedWrite(): { calls: Pending[]; write: (items: string[]) => Promise<string[]> } {
  const calls: Pending[] = [];
  const write = (items: string[]): Promise<string[]> =>
    new Promise((resolve, reject) => {
      calls.push({
        items,
        release: () => (items.includes('bad') ? reject(new Error(`refused ${items.join(',')}`)) : resolve(items.map((i) => i.toUpperCase()))),
      });
    });
  return { calls, write };
}

/** Lets the writer's promise callbacks run until `n` writes have been started. */
async function writesStarted(calls: Pending[], n: number): Promise<void> {
  for (let i = 0; i < 100 && calls.length < n; i++) await new Promise((r) => setImmediate(r));
  expect(calls).toHaveLength(n);
}

describe('GroupedWriter', () => {
  it('writes items submitted together in one write, each with its own result; a refused one alone rejects', async () => {
    const { calls, write } = gatedWrite();
    const w = new GroupedWriter(write, { maxBatch: 3 });
    const out = w.submitMany(['a', 'bad', 'c', 'd']).map((p) => p.then((v) => v, (e: Error) => e.message));
    await writesStarted(calls, 1);
    expect(calls[0]!.items).toEqual(['a', 'bad', 'c']);
    calls[0]!.release();
    // Refused: written again one at a time, then the fourth, which maxBatch left out of the first write.
    for (let n = 2; n <= 5; n++) {
      await writesStarted(calls, n);
      calls[n - 1]!.release();
    }
    expect(calls.map((c) => c.items)).toEqual([['a', 'bad', 'c'], ['a'], ['bad'], ['c'], ['d']]);
    expect(await Promise.all(out)).toEqual(['A', 'refused bad', 'C', 'D']);
  });

  it('writes the first item alone and the ones that came meanwhile together, each caller getting its own result', async () => {
    const { calls, write } = gatedWrite();
    const w = new GroupedWriter(write);
    const a = w.submit('a');
    await writesStarted(calls, 1);
    const rest = ['b', 'c', 'd'].map((x) => w.submit(x));
    expect(calls).toHaveLength(1);
    calls[0]!.release();
    await writesStarted(calls, 2);
    expect(calls.map((c) => c.items)).toEqual([['a'], ['b', 'c', 'd']]);
    calls[1]!.release();
    expect(await a).toBe('A');
    expect(await Promise.all(rest)).toEqual(['B', 'C', 'D']);
  });

  it('keeps a batch to maxBatch items', async () => {
    const { calls, write } = gatedWrite();
    const w = new GroupedWriter(write, { maxBatch: 2 });
    const all = ['a', 'b', 'c', 'd', 'e'].map((x) => w.submit(x));
    await writesStarted(calls, 1);
    calls[0]!.release();
    await writesStarted(calls, 2);
    calls[1]!.release();
    await writesStarted(calls, 3);
    calls[2]!.release();
    expect(await Promise.all(all)).toEqual(['A', 'B', 'C', 'D', 'E']);
    expect(calls.map((c) => c.items)).toEqual([['a'], ['b', 'c'], ['d', 'e']]);
  });

  it('splits a refused batch into single writes: only the item the write refuses fails', async () => {
    const { calls, write } = gatedWrite();
    const w = new GroupedWriter(write);
    const first = w.submit('a');
    await writesStarted(calls, 1);
    const b = w.submit('b');
    // Its rejection is awaited below; caught here so that it is handled when it happens.
    const bad = w.submit('bad').catch((err: Error) => err);
    const c = w.submit('c');
    calls[0]!.release();
    await writesStarted(calls, 2);
    calls[1]!.release(); // ['b', 'bad', 'c'] is refused
    await writesStarted(calls, 3);
    calls[2]!.release();
    await writesStarted(calls, 4);
    calls[3]!.release();
    await writesStarted(calls, 5);
    calls[4]!.release();
    expect(await first).toBe('A');
    expect(await b).toBe('B');
    expect(await bad).toEqual(new Error('refused bad'));
    expect(await c).toBe('C');
    expect(calls.map((x) => x.items)).toEqual([['a'], ['b', 'bad', 'c'], ['b'], ['bad'], ['c']]);
  });

  it('starts again after going idle', async () => {
    const { calls, write } = gatedWrite();
    const w = new GroupedWriter(write);
    const a = w.submit('a');
    await writesStarted(calls, 1);
    calls[0]!.release();
    expect(await a).toBe('A');
    const b = w.submit('b');
    await writesStarted(calls, 2);
    calls[1]!.release();
    expect(await b).toBe('B');
  });

  it('keeps a batch within maxWeight: a heavy item goes alone, and at least one item always goes', async () => {
    const { calls, write } = gatedWrite();
    const w = new GroupedWriter(write, { weigh: (x: string) => x.length, maxWeight: 4 });
    const all = ['a', 'bb', 'cc', 'dddddd', 'e', 'f'].map((x) => w.submit(x));
    for (let n = 1; n <= 4; n++) {
      await writesStarted(calls, n);
      calls[n - 1]!.release();
    }
    expect(await Promise.all(all)).toEqual(['A', 'BB', 'CC', 'DDDDDD', 'E', 'F']);
    expect(calls.map((c) => c.items)).toEqual([['a'], ['bb', 'cc'], ['dddddd'], ['e', 'f']]);
  });

  it('fails a whole batch at once when the database is away, without a write per item', async () => {
    const calls: string[][] = [];
    let gate!: () => void;
    const opened = new Promise<void>((r) => { gate = r; });
    const w = new GroupedWriter(async (items: string[]) => {
      calls.push(items);
      if (calls.length === 1) await opened;
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    });
    const first = w.submit('a').catch((err: Error) => err.message);
    await new Promise((r) => setImmediate(r));
    const rest = ['b', 'c', 'd'].map((x) => w.submit(x).catch((err: Error) => err.message));
    gate();
    expect(await first).toMatch(/ECONNREFUSED/);
    expect(await Promise.all(rest)).toEqual(Array(3).fill('connect ECONNREFUSED 127.0.0.1:5432'));
    expect(calls).toEqual([['a'], ['b', 'c', 'd']]);
  });
});
