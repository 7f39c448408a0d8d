import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { BatchParamRow } from '../../db/queries/batch';
import { ConfigError, errorMessage, JobInputError } from '../../errors';
import { checkPlainFileName } from '../../reports/filename';
import { reportParams } from '../../reports/params';
import type { CommandContext } from '../context';
import { withPool } from '../context';
import { parseParam } from './submit';

export interface RenderFlags {
  output: string;
  param: Array<{ name: string; type: string; value: string }>;
  paramType: Array<[string, string]>;
  csv: boolean;
  query?: string;
  delimiter: string;
  header: boolean;
}

/** A job's messages start "job N: "; on the command line the same words name the flag instead. */
function asArgumentError(err: unknown): never {
  if (err instanceof JobInputError) throw new ConfigError(errorMessage(err).replace(/^job \d+: /, ''));
  throw err;
}

/** The batchparam rows a job with these --param flags would have: the same parsing, the same messages. */
export function paramRows(f: Pick<RenderFlags, 'param' | 'paramType'>): BatchParamRow[] {
  const types = new Map(f.paramType);
  for (const name of types.keys()) {
    if (!f.param.some((p) => p.name === name)) {
      throw new ConfigError(`--param-type ${name}=${types.get(name)}: there is no --param ${name}=... to give that type to`);
    }
  }
  return f.param.map((p, i) => ({ order: i + 1, name: p.name, value: p.value, type: types.get(p.name) ?? p.type }));
}

/**
 * `xtconnect render NAME -o FILE`: renders a report from the database as a RunReport job would, without
 * queueing one, and prints what it wrote. Nothing is delivered.
 */
export async function renderCommand(ctx: CommandContext, reportName: string, f: RenderFlags, out: NodeJS.WritableStream): Promise<number> {
  const target = path.resolve(f.output);
  try {
    checkPlainFileName(0, '--output', path.basename(target));
  } catch (err) {
    asArgumentError(err);
  }
  const format = f.csv || /\.csv$/i.test(target) ? 'csv' : 'pdf';
  // The renderer (the XML parser, PDF and CSV writers) is loaded by the command that renders, not by every
  // command: a daemon that renders no report keeps none of it in memory (issue 17).
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { parseDelimiter } = require('../../reports/csv') as typeof import('../../reports/csv');
  const { loadReport } = require('../../reports/definitions') as typeof import('../../reports/definitions');
  const { renderToFile } = require('../../reports/renderFile') as typeof import('../../reports/renderFile');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const delimiter = parseDelimiter(f.delimiter);
  if (!delimiter) throw new ConfigError(`--delimiter ${JSON.stringify(f.delimiter)} must be one of , ; | or tab`);
  if (format === 'pdf' && (f.query || f.delimiter !== ',' || !f.header)) {
    throw new ConfigError('--query, --delimiter and --no-header apply to CSV output: add --csv or name a .csv file with -o');
  }
  let params;
  try {
    params = reportParams(0, paramRows(f)).report;
  } catch (err) {
    asArgumentError(err);
  }
  const result = await withPool(ctx, async (pool) => {
    const { def } = await loadReport(pool, reportName, (message) => new ConfigError(message));
    return renderToFile({
      pool, def, params, format, queryTimeoutSeconds: ctx.cfg.reports.queryTimeoutSeconds, fonts: ctx.cfg.reports.fonts, log: ctx.log,
      csv: { delimiter, header: f.header, query: f.query ?? null },
    }, target);
  });
  const what = result.pages !== undefined ? `${result.pages} page${result.pages === 1 ? '' : 's'}` : `${result.rows} row${result.rows === 1 ? '' : 's'}`;
  out.write(`wrote ${f.output} (${what}, ${result.bytes} bytes)\n`);
  return 0;
}

function collectParam(v: string, prev: RenderFlags['param']): RenderFlags['param'] {
  try {
    return parseParam(v, prev);
  } catch (err) {
    throw new InvalidArgumentError(errorMessage(err));
  }
}

function collectType(v: string, prev: RenderFlags['paramType']): RenderFlags['paramType'] {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)=([A-Za-z][A-Za-z0-9_]*)$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`"${v}" must look like name=type, for example customer_id=int or ids=QVariantList`);
  return [...prev, [m[1]!, m[2]!]];
}

/** Adds `render` to the program (src/cli/index.ts). */
export function addRenderCommand(program: Command, ctx: () => CommandContext, run: (p: Promise<number>) => Promise<void>, out: NodeJS.WritableStream): void {
  program
    .command('render <name>')
    .description('Render a report from the database to a PDF (or CSV) file now, as a RunReport job would, without queueing one.')
    .requiredOption('-o, --output <file>', 'the file to write: .pdf, or .csv for CSV')
    .option('--param <name[:type]=value>', 'a report parameter (repeatable)', collectParam, [])
    .option('--param-type <name=type>', 'the type of a --param as xTuple writes it: int, double, bool, QDate, QVariantList, ... (repeatable)', collectType, [])
    .option('--csv', 'write CSV (also chosen by a .csv output name)', false)
    .option('--query <name>', 'CSV: the query to export (default: the report\'s detail query)')
    .option('--delimiter <char>', 'CSV: , ; | or tab', ',')
    .option('--no-header', 'CSV: leave out the header line')
    .action((name: string, o: RenderFlags) => run(renderCommand(ctx(), name, o, out)));
}
