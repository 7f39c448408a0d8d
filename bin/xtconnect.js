#!/usr/bin/env node
'use strict';
const path = require('node:path');

let cli;
try {
  cli = require('../dist/cli/index.js');
} catch (err) {
  // A checkout that was never built (npm ci builds it through "prepare"), or whose build failed: say what to do
  // rather than print a stack trace about a missing module.
  if (err && err.code === 'MODULE_NOT_FOUND' && String(err.message).includes(path.join('dist', 'cli', 'index.js'))) {
    const root = path.resolve(__dirname, '..');
    process.stderr.write(`xtconnect: ${path.join(root, 'dist')} is missing or incomplete: build it with "npm run build" in ${root} (npm ci does this too)\n`);
    process.exit(1);
  }
  throw err;
}
cli.main(process.argv);
