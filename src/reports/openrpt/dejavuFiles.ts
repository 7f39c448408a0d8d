/**
 * The DejaVu fonts' bytes. Run from the sources, they are read from the dejavu-fonts-ttf package in
 * node_modules; scripts/bundle.js replaces this module in the bundle (and so in the binary) with one that
 * carries the twelve files itself and exports the same function.
 */
import fs from 'node:fs';
import path from 'node:path';

export function dejavuBytes(name: string): Uint8Array {
  const dir = path.join(path.dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');
  return fs.readFileSync(path.join(dir, `${name}.ttf`));
}
