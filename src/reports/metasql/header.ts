/**
 * The `-- Group:` / `-- Name:` / `-- Notes:` header of a .mql file, read the way xTuple's updater
 * (loadmetasql.cpp) reads it: keys ignore case, and Notes runs on over the `--` lines that follow, joined by
 * spaces. Unlike the updater, only the leading comment block counts, so a `-- Name:` comment further down
 * the query cannot rename it.
 */
export function mqlHeader(source: string): { group: string | null; name: string | null; notes: string | null } {
  const lines = source.split(/\r?\n/);
  const head: string[] = [];
  for (const line of lines) {
    if (/^\s*--/.test(line)) head.push(line);
    else if (line.trim() === '' && head.length === 0) continue;
    else break;
  }
  let group: string | null = null;
  let name: string | null = null;
  let notes: string | null = null;
  const keyed = /^\s*--\s*(group|name|notes)\s*:(.*)$/i;
  for (let i = 0; i < head.length; i++) {
    const m = keyed.exec(head[i]);
    if (!m) continue;
    const value = m[2].trim();
    const key = m[1].toLowerCase();
    if (key === 'group') group = value || null;
    else if (key === 'name') name = value || null;
    else {
      const parts = value ? [value] : [];
      while (i + 1 < head.length && !keyed.test(head[i + 1])) {
        const more = head[++i].replace(/^\s*--/, '').trim();
        if (more) parts.push(more);
      }
      notes = parts.length > 0 ? parts.join(' ') : null;
    }
  }
  return { group, name, notes };
}
