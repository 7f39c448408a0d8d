import { marker } from './statements';

/** A parameter value. Arrays are lists: foreach walks them, and value() outside a loop gives the first element. */
export type MetaValue = string | number | boolean | null | Date | MetaValue[];
export type MetaParams = ReadonlyMap<string, MetaValue>;

export type MetaScalar = Exclude<MetaValue, MetaValue[]>;

/** A list used where one value is wanted counts as its first element (OpenRPT); an empty list as NULL. */
export function scalarOf(v: MetaValue | undefined): MetaScalar {
  let x: MetaValue | undefined = v;
  while (Array.isArray(x)) x = x.length > 0 ? x[0] : null;
  return x === undefined ? null : x;
}

/**
 * Dates go to the server as ISO text, not as JS Dates: node-postgres would render a Date in the daemon's local
 * time zone, so a date picked as midnight UTC could become the previous day once cast to `date`. A Date at
 * exactly 00:00:00.000 UTC is a calendar date ("2024-01-31"); any other is a UTC timestamp.
 */
export function isoDate(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new TypeError('a MetaSQL parameter is an invalid Date');
  const iso = d.toISOString();
  return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso;
}

/** How `literal()` pastes a value, and what `if literal(...)` compares with "true". */
export function literalText(v: MetaValue | undefined): string {
  const s = scalarOf(v);
  if (s === null) return '';
  if (s instanceof Date) return isoDate(s);
  return String(s);
}

const INT4_MAX = 2147483647;

/**
 * The cast that gives a placeholder the type Qt's pasted literal had: a bare 5 is an integer, 5.5 a numeric,
 * TRUE a boolean, while a quoted string or date is untyped and takes its type from where it stands. Without
 * the cast, `ARRAY[$1, $2]` would be text[] and miss xTuple functions taking integer[].
 */
export function placeholderCast(s: Exclude<MetaScalar, null>): string {
  if (typeof s === 'boolean') return '::boolean';
  if (typeof s === 'number') {
    if (!Number.isInteger(s)) return '::numeric';
    if (Math.abs(s) <= INT4_MAX) return '::integer';
    return Number.isSafeInteger(s) ? '::bigint' : '::numeric';
  }
  return '';
}

/** The value handed to node-postgres for a placeholder. */
export function boundValue(s: Exclude<MetaScalar, null>): string | number | boolean {
  return s instanceof Date ? isoDate(s) : s;
}

/**
 * Collects the values of one query text and writes each placeholder as a marker (statements.ts numbers them per
 * statement, `$1..$n`). With `share`, every use of one parameter with one value gets one placeholder, as Qt
 * pasted the same literal at each spot: xTuple's statements rely on it where a value stands in the select list
 * twice and an ORDER BY names the column (`salesAccounts-detail`: two different placeholders make the two
 * expressions differ, and PostgreSQL calls the ORDER BY "ambiguous"). A shared placeholder has one type, so a
 * statement that uses one string both as text and as a number fails with 42P08; the caller then binds again
 * without sharing (see query.ts).
 */
export class Placeholders {
  readonly values: unknown[] = [];
  private readonly byKey = new Map<string, number>();
  /** Whether any placeholder stands at more than one spot. */
  shared = false;

  constructor(private readonly share = false) {}

  /** SQL for one value: NULL for an absent or null one (typed by its context, as Qt's pasted NULL was). */
  add(v: MetaValue | undefined, name?: string): string {
    const s = scalarOf(v);
    if (s === null) return 'NULL';
    return this.marker(boundValue(s), name) + placeholderCast(s);
  }

  /** A placeholder holding the value as text, without a cast (a legacy `'%1'` that stood for a whole string). */
  addText(v: MetaValue | undefined, cast = ''): string {
    if (scalarOf(v) === null) return cast ? `NULL${cast}` : 'NULL';
    return this.marker(literalText(v)) + cast;
  }

  private marker(value: unknown, name?: string): string {
    if (this.share && name !== undefined) {
      const key = `${name}\u0000${typeof value}\u0000${String(value)}`;
      const at = this.byKey.get(key);
      if (at !== undefined) {
        this.shared = true;
        return marker(at);
      }
      this.byKey.set(key, this.values.length);
    }
    this.values.push(value);
    return marker(this.values.length - 1);
  }
}
