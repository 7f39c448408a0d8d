/**
 * A MetaSQL statement that cannot be run as written. OpenRPT quietly returned no rows for these; we stop
 * instead, naming the query, the 1-based source line and the tag so an administrator can find and fix it.
 */
export class MetaSqlSyntaxError extends Error {
  override name = 'MetaSqlSyntaxError';
  constructor(
    readonly queryName: string | null,
    readonly line: number,
    readonly tag: string,
    problem: string,
  ) {
    super(`MetaSQL${queryName === null ? '' : ` "${queryName}"`} line ${line}: ${problem}`);
  }
}

/** Source text of a tag for messages: on one line, whatever line breaks it had. */
export function tagForMessage(raw: string): string {
  return raw.replace(/\s+/g, ' ');
}
