/**
 * OpenRPT report definitions → PDF, without a display and without Qt (issue 5). See README "Reports".
 *
 *   const def = parseDefinition(xml);
 *   await renderPdf(def, data, fs.createWriteStream('out.pdf'));
 */
import type { RenderOptions, ReportData } from './api';
import { ReportLayout } from './layout';
import type { ReportDefinition } from './model';
import { PdfPageWriter } from './pdf';

export type { ReportData, RenderOptions, Row, RowStream } from './api';
export { memoryData } from './api';
export { DefinitionError, parseDefinition } from './definition';
export { defaultBuiltinFormat } from './format';
export type * from './model';

/**
 * Renders the report into `out` and ends it. Rows are pulled from `data` as the layout needs them; each page
 * is written as soon as it is complete.
 */
export async function renderPdf(
  def: ReportDefinition,
  data: ReportData,
  out: NodeJS.WritableStream,
  opts: RenderOptions = {},
): Promise<{ pages: number }> {
  const writer = new PdfPageWriter(def.title || def.name, def.page.width, def.page.height, out, opts);
  let pages: number;
  try {
    pages = await new ReportLayout(def, data, writer, opts).run();
  } catch (err) {
    writer.abort();
    throw err;
  }
  await writer.finish(pages);
  return { pages };
}
