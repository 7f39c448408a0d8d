import fs from 'node:fs';

/** One execution of a job that had an effect (a delivered mail, a committed ERP action), in ms since the epoch. */
export interface Interval {
  start: number;
  end: number;
  /** Who ran it (an SMTP connection, a database backend), for failure messages. */
  by?: string | number;
}

export interface Tally {
  jobs: number;
  /** Jobs that did not end done, or whose work never took effect. */
  lost: number;
  /** Jobs whose work took effect more than once (delivered, committed). */
  runTwice: number;
  /** Jobs with two executions whose intervals overlap: run twice at the same time. */
  overlapping: number;
}

/** Whether any two intervals of the list overlap (touching ends do not count). */
export function overlaps(list: readonly Interval[]): boolean {
  const sorted = [...list].sort((a, b) => a.start - b.start);
  let maxEnd = -Infinity;
  for (const i of sorted) {
    if (i.start < maxEnd) return true;
    maxEnd = Math.max(maxEnd, i.end);
  }
  return false;
}

/**
 * Counts, over `keys` (every job the test queued), the jobs whose work never took effect or did not end done,
 * took effect twice, or ran twice at the same time. `done` says which keys ended done in xtbatch.batch.
 */
export function tally(keys: readonly string[], executions: Map<string, Interval[]>, done: (key: string) => boolean): Tally & { details: string[] } {
  const t = { jobs: keys.length, lost: 0, runTwice: 0, overlapping: 0, details: [] as string[] };
  for (const k of keys) {
    const list = executions.get(k) ?? [];
    if (list.length === 0 || !done(k)) {
      t.lost++;
      t.details.push(`${k}: ${list.length} execution(s), ${done(k) ? 'done' : 'not done'}`);
    }
    if (list.length > 1) {
      t.runTwice++;
      const iso = (ms: number): string => new Date(ms).toISOString().slice(11, 23);
      t.details.push(`${k}: ran ${list.length} times: ${list.map((i) => `[${iso(i.start)}–${iso(i.end)} by ${i.by}]`).join(' ')}`);
    }
    if (overlaps(list)) t.overlapping++;
  }
  return t;
}

/**
 * The figures of one chaos run as one line ("CHAOS <name>: jobs=… lost=… …"), for the test output and, when
 * XTCONNECT_CHAOS_SUMMARY names a file, appended to it as well (one line per run, to collect a whole suite's).
 */
export function summary(name: string, figures: Record<string, number | string>): string {
  const line = `CHAOS ${name}: ${Object.entries(figures).map(([k, v]) => `${k}=${v}`).join(' ')}`;
  const file = process.env.XTCONNECT_CHAOS_SUMMARY;
  if (file) fs.appendFileSync(file, `${new Date().toISOString()} ${line}\n`);
  return line;
}

/** Executions recorded in several places (one SMTP server per daemon), together by job. */
export function mergeExecutions(...maps: Array<Map<string, Interval[]>>): Map<string, Interval[]> {
  const out = new Map<string, Interval[]>();
  for (const m of maps) for (const [k, list] of m) out.set(k, [...(out.get(k) ?? []), ...list]);
  return out;
}
