/**
 * `xtconnect render`, run in process through the same command tree bin/xtconnect.js builds (buildProgram), with
 * main()'s mapping of errors to exit codes: 0 written, 1 failed, 2 bad arguments.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { CommanderError, type Command } from 'commander';
import { buildProgram } from '../../src/cli/index';
import { ConfigError, errorMessage } from '../../src/errors';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { pdfText } from '../support/pdfText';
import { tempDir } from '../support/tempDirs';
import { loadReportFixtures } from './dbFixtures';

let db: TestDatabase;
let config: string;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  await loadReportFixtures(db.pool);
  dir = tempDir('xtc-render-');
  config = path.join(dir, 'xtconnect.yaml');
  fs.writeFileSync(config, `dataDir: ${dir}\n`);
});
afterAll(async () => {
  await db.drop();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function xtconnect(...args: string[]): Promise<Run> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  let code = 0;
  let stderr = '';
  const program = buildProgram(out, (c) => (code = c));
  const capture = (c: Command): void => {
    c.configureOutput({ writeErr: (s) => (stderr += s), writeOut: (s) => out.write(s) });
    c.commands.forEach(capture);
  };
  capture(program);
  try {
    await program.parseAsync(['node', 'xtconnect', '--config', config, '--database-url', db.url, ...args]);
  } catch (err) {
    if (err instanceof CommanderError) code = err.exitCode === 0 ? 0 : 2;
    else if (err instanceof ConfigError) {
      code = 2;
      stderr += `xtconnect: ${errorMessage(err)}\n`;
    } else {
      code = 1;
      stderr += `xtconnect: ${errorMessage(err)}\n`;
    }
  }
  return { code, stdout: Buffer.concat(chunks).toString(), stderr };
}

it('renders a report with typed parameters to a PDF and says what it wrote', async () => {
  const file = path.join(dir, 'po.pdf');
  const r = await xtconnect('render', 'PurchaseOrder', '--param', 'pohead_id=1', '--param-type', 'pohead_id=int',
    '--param', 'title=Copy', '--param', 'showcosts:bool=true', '-o', file);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const { pages } = await pdfText(file);
  expect(r.stdout).toBe(`wrote ${file} (${pages.length} page${pages.length === 1 ? '' : 's'}, ${fs.statSync(file).size} bytes)\n`);
  const text = pages.flat().join('\n');
  expect(text).toContain('20055');
  expect(text).toContain('223.74');
});

it('writes CSV from a named query with a delimiter and without a header', async () => {
  const file = path.join(dir, 'uoms.txt');
  const r = await xtconnect('render', 'UOMs', '--csv', '--query', 'detail', '--delimiter', 'tab', '--no-header', '-o', file);
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(`wrote ${file} (5 rows, ${fs.statSync(file).size} bytes)\n`);
  expect(fs.readFileSync(file, 'utf8')).toBe('BX\tBox\r\nCS\tCase\r\nEA\tEach\r\nKG\tKilogram\r\nLB\tPound\r\n');
});

it('exits 2 naming what to fix for bad arguments', async () => {
  const out = path.join(dir, 'x.pdf');
  const cases: Array<[string[], RegExp]> = [
    [['render', 'UOMs'], /required option '-o, --output <file>' not specified/],
    [['render', 'UOMs', '-o', out, '--param', 'novalue'], /--param "novalue" must look like name=value/],
    [['render', 'UOMs', '-o', out, '--param-type', 'x'], /"x" must look like name=type/],
    [['render', 'UOMs', '-o', out, '--param-type', 'a=int'], /--param-type a=int: there is no --param a=\.\.\. to give that type to/],
    [['render', 'UOMs', '-o', out, '--param', 'a=one', '--param-type', 'a=int'], /parameter "a" has type int but its value "one" is not a whole number/],
    [['render', 'UOMs', '-o', out, '--delimiter', ':'], /--delimiter ":" must be one of , ; \| or tab/],
    [['render', 'UOMs', '-o', out, '--query', 'detail'], /apply to CSV output: add --csv/],
    [['render', 'NoSuchReport', '-o', out], /no report named "NoSuchReport" in report or xtbatch.xtconnect_report/],
  ];
  for (const [args, says] of cases) {
    const r = await xtconnect(...args);
    expect({ args, code: r.code }).toEqual({ args, code: 2 });
    expect(r.stderr).toMatch(says);
    expect(r.stdout).toBe('');
  }
  expect(fs.existsSync(out)).toBe(false);
});

it('exits 1 with the database\'s words when a query fails, and leaves no file', async () => {
  const file = path.join(dir, 'ar.pdf');
  // ARAging needs relDate: without it araging(NULL, NULL) runs, so break it another way: a text where a date is due.
  const r = await xtconnect('render', 'ARAging', '--param', 'relDate=not a date', '--param', 'useDocDate:bool=false', '-o', file);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^xtconnect: report "ARAging", query "detail": invalid input syntax for type date: "not a date"\n$/);
  expect(fs.existsSync(file)).toBe(false);
  expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
});
