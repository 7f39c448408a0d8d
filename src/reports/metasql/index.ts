/**
 * xTuple MetaSQL: SQL with `<? … ?>` template tags, turned into parameterised SQL ($1..$n plus a values array).
 * Parse once with parseMetaSql, bind per parameter set with bindMetaSql; renderMetaSql does both, and binds a
 * legacy OpenRPT query (one without `<?`) with bindLegacy instead.
 */
import { bindLegacy } from './legacy';
import { bindMetaSql } from './bind';
import { parseMetaSql } from './parse';
import type { MetaParams } from './values';
import type { BindOptions, BoundQuery } from './bind';

export { MetaSqlSyntaxError } from './errors';
export type { MetaSqlTemplate } from './parse';
export type { MetaValue, MetaParams } from './values';
export type { BoundQuery, BindOptions } from './bind';
export type { BoundStatement } from './statements';
export { parseMetaSql, bindMetaSql, bindLegacy };
export { mqlHeader } from './header';

/** True when OpenRPT would have treated the text as MetaSQL rather than as a legacy query. */
export function isMetaSql(source: string): boolean {
  return source.includes('<?');
}

/** parse + bind in one call; a query without `<?` is a legacy one (`%N`, `$"name"`). */
export function renderMetaSql(
  source: string,
  params: MetaParams,
  name: string | null = null,
  opts: BindOptions & { warn?: (message: string) => void } = {},
): BoundQuery {
  if (!isMetaSql(source)) return bindLegacy(source, params, name);
  const template = parseMetaSql(source, name);
  for (const w of template.warnings) opts.warn?.(w);
  return bindMetaSql(template, params, opts);
}
