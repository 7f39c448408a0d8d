/**
 * xTuple MetaSQL: SQL with `<? … ?>` template tags, turned into parameterised SQL ($1..$n plus a values array).
 * Parse once with parseMetaSql, bind per parameter set with bindMetaSql; renderMetaSql does both, and binds a
 * legacy OpenRPT query (one without `<?`) with bindLegacy instead.
 */
import { bindLegacy } from './legacy';
import { bindMetaSql } from './bind';
import { parseMetaSql } from './parse';
import type { MetaParams } from './values';

export { MetaSqlSyntaxError } from './errors';
export type { MetaSqlTemplate } from './parse';
export type { MetaValue, MetaParams } from './values';
export { parseMetaSql, bindMetaSql, bindLegacy };
export { mqlHeader } from './header';

/** True when OpenRPT would have treated the text as MetaSQL rather than as a legacy query. */
export function isMetaSql(source: string): boolean {
  return source.includes('<?');
}

/** parse + bind in one call; a query without `<?` is a legacy one (`%N`, `$"name"`). */
export function renderMetaSql(source: string, params: MetaParams, name: string | null = null): { text: string; values: unknown[] } {
  if (!isMetaSql(source)) return bindLegacy(source, params, name);
  return bindMetaSql(parseMetaSql(source, name), params);
}
