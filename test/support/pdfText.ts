import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface PdfTextItem {
  str: string;
  x: number;
  /** Points from the top of the page (the baseline). */
  y: number;
}

export interface PdfTextPage {
  width: number;
  height: number;
  items: PdfTextItem[];
}

const SCRIPT = path.join(__dirname, 'pdf-text.mjs');

/** Text items of each page as pdfjs reads them (a real PDF reader, not our own writer). */
export async function pdfTextItems(pdf: Buffer | string): Promise<PdfTextPage[]> {
  let file = typeof pdf === 'string' ? pdf : '';
  let tmp: string | null = null;
  if (typeof pdf !== 'string') {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pdftext-'));
    file = path.join(tmp, 'doc.pdf');
    fs.writeFileSync(file, pdf);
  }
  try {
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [SCRIPT, file], { maxBuffer: 256 * 1024 * 1024 }, (err, out, errText) => {
        if (err) reject(new Error(`pdf-text.mjs failed on ${file}: ${err.message}\n${errText}`));
        else resolve(out);
      });
    });
    return (JSON.parse(stdout) as { pages: PdfTextPage[] }).pages;
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Reading order: top to bottom, then left to right, items on (nearly) the same baseline counting as one line. */
export function readingOrder(items: PdfTextItem[]): PdfTextItem[] {
  return [...items].sort((a, b) => (Math.abs(a.y - b.y) < 2 ? a.x - b.x : a.y - b.y));
}

/** The text of each page, as strings in reading order. */
export async function pdfText(pdf: Buffer | string): Promise<{ pages: string[][] }> {
  const pages = await pdfTextItems(pdf);
  return { pages: pages.map((p) => readingOrder(p.items).map((i) => i.str)) };
}
