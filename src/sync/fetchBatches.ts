import type { ImapFlow } from 'imapflow';

export interface FetchedMessage {
  uid: number;
  source: Buffer;
  internalDate: Date | null;
}

/** "1:5,7,9:12": consecutive UIDs as ranges, so a batch is one short command. */
export function uidSet(uids: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < uids.length; ) {
    let j = i;
    while (j + 1 < uids.length && uids[j + 1] === uids[j]! + 1) j++;
    parts.push(i === j ? String(uids[i]) : `${uids[i]}:${uids[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Splits UIDs into fetches of at most `count` messages and `bytes` bytes (a larger message goes alone). */
export function batches(uids: readonly number[], sizes: ReadonlyMap<number, number>, count: number, bytes: number): number[][] {
  const out: number[][] = [];
  let cur: number[] = [];
  let curBytes = 0;
  for (const uid of uids) {
    const size = sizes.get(uid) ?? 0;
    if (cur.length && (cur.length >= count || curBytes + size > bytes)) {
      out.push(cur);
      cur = [];
      curBytes = 0;
    }
    cur.push(uid);
    curBytes += size;
  }
  if (cur.length) out.push(cur);
  return out;
}

/**
 * The messages with the given UIDs (ascending), fetched in batches of at most `count` messages and `bytes` bytes:
 * sizes first (cheap), then the bodies of one batch at a time, each batch whole and sorted by UID. Memory is bounded
 * by one batch (two while the caller works on one and the next is on its way), never by the folder.
 */
export async function* fetchBatches(imap: ImapFlow, uids: readonly number[], count: number, bytes: number): AsyncGenerator<FetchedMessage[]> {
  for (let i = 0; i < uids.length; i += count) {
    const chunk = uids.slice(i, i + count);
    const sizes = new Map<number, number>();
    for await (const m of imap.fetch(uidSet(chunk), { uid: true, size: true }, { uid: true })) sizes.set(m.uid, m.size ?? 0);
    // A message expunged since the search has no size: it is gone, not skipped.
    for (const part of batches(chunk.filter((u) => sizes.has(u)), sizes, count, bytes)) {
      const fetched: FetchedMessage[] = [];
      for await (const m of imap.fetch(uidSet(part), { uid: true, source: true, internalDate: true }, { uid: true })) {
        if (m.source) fetched.push({ uid: m.uid, source: m.source, internalDate: m.internalDate instanceof Date ? m.internalDate : null });
      }
      fetched.sort((a, b) => a.uid - b.uid);
      yield fetched;
    }
  }
}
