/**
 * Reports render with the built-in DejaVu fonts from the one-file deliverables, where the fonts are not in the
 * script: the standalone binary reads them from its SEA assets, dist/xtconnect.js carries them compressed
 * (scripts/bundle.js). Both are run from a folder with no node_modules near it, as installed, through
 * `xtconnect render`; the PDF must embed a subset of each of the twelve faces and read back as written.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { pdfTextItems } from '../support/pdfText';
import { tempDir } from '../support/tempDirs';

const { buildBinary } = require('../../scripts/build-binary') as {
  buildBinary(o: { output: string; work: string }): Promise<{ output: string }>;
};
const { bundle } = require('../../scripts/bundle') as { bundle(o: { outfile: string }): Promise<{ outfile: string }> };

const TEXT = 'Zak\u0142ad \u0141\u00f3d\u017a \u03a9mega \u041f\u0440\u0438\u0432\u0435\u0442';
const FACES: Array<[face: string, family: string]> = [['Arial', 'DejaVuSans'], ['Times New Roman', 'DejaVuSerif'], ['Courier New', 'DejaVuSansMono']];
const STYLES: Array<[extra: string, bold: boolean, italic: boolean]> = [['', false, false], ['<weight>bold</weight>', true, false], ['<italic/>', false, true], ['<weight>bold</weight><italic/>', true, true]];

/** The DejaVu file each face and style maps to (src/reports/openrpt/fonts.ts): Sans and Mono say Oblique, Serif Italic. */
function dejavuName(family: string, bold: boolean, italic: boolean): string {
  const slant = family === 'DejaVuSerif' ? 'Italic' : 'Oblique';
  const style = `${bold ? 'Bold' : ''}${italic ? slant : ''}`;
  return style ? `${family}-${style}` : family;
}

/** One field per face and style, twelve in all. */
function definition(): string {
  const fields: string[] = [];
  let y = 0;
  for (const [face] of FACES) {
    for (const [extra] of STYLES) {
      fields.push(`<field><rect><x>0</x><y>${y}</y><width>400</width><height>20</height></rect>
        <font><face>${face}</face><size>10</size>${extra}</font><left/><top/><data><query>q</query><column>name</column></data></field>`);
      y += 22;
    }
  }
  return `<report><name>BinaryFonts</name><size>Letter</size><portrait/>
    <querysource><name>q</name><sql>SELECT '${TEXT}'::text AS name</sql></querysource>
    <section><name>s</name><detail><key><query>q</query></key><height>${y + 10}</height>${fields.join('\n')}</detail></section></report>`;
}

/** Every /BaseFont of the PDF, subset tags (ABCDEF+) taken off, also inside compressed object streams. */
function baseFonts(pdf: Buffer): string[] {
  const names = new Set<string>();
  const scan = (text: string) => {
    for (const m of text.matchAll(/\/BaseFont \/([A-Z]{6}\+)?([A-Za-z0-9-]+)/g)) names.add(m[2]!);
  };
  const text = pdf.toString('latin1');
  scan(text);
  for (const m of text.matchAll(/stream\r?\n/g)) {
    try {
      scan(inflateSync(pdf.subarray(m.index + m[0].length)).toString('latin1'));
    } catch {
      // not a deflated stream
    }
  }
  return [...names].sort();
}

function nodeModulesAbove(dir: string): boolean {
  for (let d = dir; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'node_modules'))) return true;
    if (d === path.dirname(d)) return false;
  }
}

/** A folder with no node_modules in it or above it, where Node could find the fonts package. */
function isolatedDir(): string {
  const base = [os.tmpdir(), '/var/tmp'].find((b) => fs.existsSync(b) && !nodeModulesAbove(b));
  if (!base) throw new Error('every temp folder has a node_modules above it: cannot test running without one');
  const dir = fs.mkdtempSync(path.join(base, 'xtconnect-fonts-'));
  isolated.push(dir);
  return dir;
}
const isolated: string[] = [];

function run(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

let db: TestDatabase;
let binary: string;
let bundled: string;
let emptyPath: string;

beforeAll(async () => {
  const work = tempDir('xtconnect-binary-fonts-');
  const [cli, js] = await Promise.all([
    buildBinary({ output: path.join(work, 'build', 'xtconnect'), work: path.join(work, 'sea') }),
    bundle({ outfile: path.join(work, 'dist', 'xtconnect.js') }),
  ]);
  const dir = isolatedDir();
  binary = path.join(dir, 'xtconnect');
  bundled = path.join(dir, 'xtconnect.js');
  fs.copyFileSync(cli.output, binary);
  fs.chmodSync(binary, 0o755);
  fs.copyFileSync(js.outfile, bundled);
  emptyPath = path.join(dir, 'empty-path');
  fs.mkdirSync(emptyPath);
  db = await createTestDatabase();
  await db.pool.query(`INSERT INTO xtbatch.xtconnect_report (report_name, report_grade, report_source, report_descrip) VALUES ('BinaryFonts', 0, $1, 'binary fonts test')`,
    [definition()]);
}, 180_000);

afterAll(async () => {
  await db?.drop();
  for (const d of isolated.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

async function expectAllFaces(file: string): Promise<void> {
  const pdf = fs.readFileSync(file);
  const expected = FACES.flatMap(([, family]) => STYLES.map(([, bold, italic]) => dejavuName(family, bold, italic))).sort();
  expect(baseFonts(pdf)).toEqual(expect.arrayContaining(expected));
  // Each field is one line; pdfjs reads a fixed-pitch font's words as separate items, joined here with a space.
  const byY = new Map<number, string[]>();
  for (const i of (await pdfTextItems(file))[0]!.items) byY.set(Math.round(i.y), [...(byY.get(Math.round(i.y)) ?? []), i.str]);
  const lines = [...byY.values()].map((parts) => parts.join(' ').replace(/ {2,}/g, ' '));
  expect(lines.filter((l) => l === TEXT)).toHaveLength(12);
}

it('the standalone binary renders a report in all twelve DejaVu faces from its assets', async () => {
  const dir = isolatedDir();
  const out = path.join(dir, 'fonts.pdf');
  const r = await run(binary, ['render', 'BinaryFonts', '-o', out, '--database-url', db.url], dir, { PATH: emptyPath, HOME: dir });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^wrote .*fonts\.pdf \(1 page, \d+ bytes\)\n$/);
  await expectAllFaces(out);
});

it('dist/xtconnect.js copied anywhere renders the same report with the fonts it carries', async () => {
  const dir = isolatedDir();
  const out = path.join(dir, 'fonts.pdf');
  const r = await run(process.execPath, [bundled, 'render', 'BinaryFonts', '-o', out, '--database-url', db.url], dir, { PATH: emptyPath, HOME: dir });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  await expectAllFaces(out);
});
