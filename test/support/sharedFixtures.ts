import fs from 'node:fs';
import path from 'node:path';

/**
 * A folder of the shared fixtures (real xTuple report definitions and MetaSQL): ../shared/fixtures beside the
 * repository, else /work/shared/fixtures. They are not copied into the repository; a missing folder fails the
 * test that needs it, with where it looked, rather than skipping.
 */
export function sharedFixturesDir(sub: 'openrpt' | 'metasql'): string {
  const candidates = [path.resolve(__dirname, '../../../shared/fixtures'), '/work/shared/fixtures'].map((c) => path.join(c, sub));
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found) throw new Error(`the shared ${sub} fixtures are missing: looked in ${candidates.join(' and ')}`);
  return found;
}
