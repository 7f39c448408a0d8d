#!/usr/bin/env node
// Writes docs/configuration.md and xtconnect.example.yaml from the config schema (src/config/schema.ts), so that
// the reference and the sample file always say what the program accepts. Run through `npm run docs:config`,
// which builds first; test/config/reference.test.ts fails when the committed copies are out of date.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { renderReference, renderSample } = require('../dist/config/reference');

const root = path.resolve(__dirname, '..');
fs.mkdirSync(path.join(root, 'docs'), { recursive: true });
fs.writeFileSync(path.join(root, 'docs', 'configuration.md'), renderReference());
fs.writeFileSync(path.join(root, 'xtconnect.example.yaml'), renderSample());
console.log('wrote docs/configuration.md and xtconnect.example.yaml');
