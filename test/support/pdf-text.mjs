// Prints the text of a PDF as JSON: {pages: [{width, height, items: [{str, x, y}]}]}, y measured from the top
// in points. pdfjs-dist is ESM only, so tests (CommonJS under jest) run this as a child process.
import fs from 'node:fs';
import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node pdf-text.mjs file.pdf\n');
  process.exit(2);
}
const data = new Uint8Array(fs.readFileSync(file));
const doc = await getDocument({ data, verbosity: 0, useSystemFonts: false, isEvalSupported: false }).promise;
const pages = [];
for (let n = 1; n <= doc.numPages; n++) {
  const page = await doc.getPage(n);
  const view = page.getViewport({ scale: 1 });
  const content = await page.getTextContent();
  const items = [];
  for (const it of content.items) {
    if (typeof it.str !== 'string' || it.str.trim() === '') continue;
    const [x, y] = [it.transform[4], it.transform[5]];
    items.push({ str: it.str, x: Math.round(x * 100) / 100, y: Math.round((view.height - y) * 100) / 100 });
  }
  pages.push({ width: view.width, height: view.height, items });
}
process.stdout.write(JSON.stringify({ pages }));
await doc.destroy();
