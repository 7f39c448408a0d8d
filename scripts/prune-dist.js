#!/usr/bin/env node
// After tsc: removes compiled files in dist/ whose source is gone. tsc never deletes outputs, so a module that was
// moved (src/config.ts became src/config/index.ts) would leave dist/config.js behind, and Node would load that
// stale file before the new folder. Pruning, not emptying dist/ first, keeps dist/ usable while it is rebuilt.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
const src = path.join(root, 'src');
// Written by scripts/bundle.js, not by tsc.
const keep = new Set(['xtconnect.js', 'xtconnect.js.map']);

function walk(dir) {
  if (!fs.existsSync(dir)) return;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      walk(p);
      if (fs.readdirSync(p).length === 0) fs.rmdirSync(p);
      continue;
    }
    const rel = path.relative(dist, p);
    if (keep.has(rel)) continue;
    const m = /^(.*)\.(js|js\.map|d\.ts|d\.ts\.map)$/.exec(rel);
    if (!m) continue;
    if (!fs.existsSync(path.join(src, `${m[1]}.ts`))) fs.rmSync(p);
  }
}
walk(dist);
