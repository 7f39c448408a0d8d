/**
 * Which font files draw a report's text. OpenRPT names Qt font faces (Arial, Helvetica, Courier, Times New
 * Roman, …); the PDF standard fonts print Western European text only, while xTuple's users write names and
 * addresses in every script. So every face maps onto an embedded TrueType font (pdfkit subsets it: only the
 * glyphs used go into the PDF):
 * - built in: DejaVu (the dejavu-fonts-ttf package, carried in the bundle and the binary), which covers Latin,
 *   Greek and Cyrillic: sans faces → DejaVu Sans, serif faces → DejaVu Serif, fixed-pitch → DejaVu Sans Mono,
 *   each with its bold, italic and bold italic;
 * - added by an administrator (`reports.fonts`): a file for a face (it replaces the built-in mapping for
 *   that face), or a file with no face, tried for each character the face's own font lacks (CJK, Arabic, …).
 * A character is drawn with the first font of the chain that has it: the face's font, then the built-in one of
 * its family and style, the administrator's fallbacks in order, and DejaVu Sans last.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FontFamily, FontSpec } from './model';

/** One `reports.fonts` entry of the config file. */
export interface ReportFontFile {
  /** OpenRPT face it stands for (matched without case against each name of a `<face>` list); null = fallback. */
  face: string | null;
  /** A .ttf/.otf file, or a .ttc/.otc collection. */
  file: string;
  /** In a collection: the PostScript name of the font to use (default: the collection's first). */
  name?: string;
  /** Only for this weight / slant (default: any). */
  bold?: boolean;
  italic?: boolean;
}

/** A font file the PDF writer can register: `key` is unique per font. */
export interface FontSource {
  key: string;
  /** The file's bytes, and for a collection the PostScript name of the font in it. */
  load(): { bytes: Buffer; name?: string };
}

const STYLE_SUFFIX: Record<FontFamily, [string, string, string, string]> = {
  // regular, bold, italic, bold italic
  Helvetica: ['DejaVuSans', 'DejaVuSans-Bold', 'DejaVuSans-Oblique', 'DejaVuSans-BoldOblique'],
  Times: ['DejaVuSerif', 'DejaVuSerif-Bold', 'DejaVuSerif-Italic', 'DejaVuSerif-BoldItalic'],
  Courier: ['DejaVuSansMono', 'DejaVuSansMono-Bold', 'DejaVuSansMono-Oblique', 'DejaVuSansMono-BoldOblique'],
};

/** The built-in font for a family and style, e.g. "DejaVuSerif-BoldItalic". */
export function dejavuName(family: FontFamily, bold: boolean, italic: boolean): string {
  return STYLE_SUFFIX[family][(bold ? 1 : 0) + (italic ? 2 : 0)]!;
}

const builtInCache = new Map<string, Buffer>();

function dejavuSource(name: string): FontSource {
  return {
    key: name,
    load: () => {
      let bytes = builtInCache.get(name);
      if (!bytes) {
        // Loaded on first use: a daemon that renders no report never reads 5 MB of fonts.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const raw = (require('./dejavuFiles') as typeof import('./dejavuFiles')).dejavuBytes(name);
        bytes = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
        builtInCache.set(name, bytes);
      }
      return { bytes };
    },
  };
}

function fileSource(f: ReportFontFile): FontSource {
  return {
    key: `file:${f.file}${f.name ? `#${f.name}` : ''}`,
    load: () => ({ bytes: fs.readFileSync(f.file), name: f.name ?? firstInCollection(f.file) }),
  };
}

/** A collection needs a font picked from it; fontkit lists them. */
function firstInCollection(file: string): string | undefined {
  if (!/\.(ttc|otc)$/i.test(file)) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fontkit = require('fontkit') as { openSync(f: string): { fonts?: Array<{ postscriptName: string }> } };
  return fontkit.openSync(file).fonts?.[0]?.postscriptName;
}

function faceNames(face: string): string[] {
  return face.split(',').map((f) => f.trim().toLowerCase()).filter(Boolean);
}

/** The font chain of each font spec of one configuration. */
export class FontLibrary {
  private readonly byFace: ReportFontFile[];
  private readonly fallbacks: FontSource[];
  private readonly chains = new Map<string, readonly FontSource[]>();

  constructor(files: readonly ReportFontFile[] = []) {
    this.byFace = files.filter((f) => f.face !== null);
    this.fallbacks = files.filter((f) => f.face === null).map(fileSource);
  }

  /** The fonts that draw text in `spec`, in the order they are tried for each character. */
  chain(spec: FontSpec): readonly FontSource[] {
    const id = `${spec.face}|${spec.family}|${spec.bold}|${spec.italic}`;
    let chain = this.chains.get(id);
    if (!chain) {
      const list: FontSource[] = [];
      const names = faceNames(spec.face);
      // The first name of the face list that an administrator gave a file for wins, as Qt took the first it had.
      for (const n of names) {
        const hit = this.byFace.find((f) => f.face!.toLowerCase() === n && (f.bold === undefined || f.bold === spec.bold) &&
          (f.italic === undefined || f.italic === spec.italic));
        if (hit) {
          list.push(fileSource(hit));
          break;
        }
      }
      list.push(dejavuSource(dejavuName(spec.family, spec.bold, spec.italic)));
      list.push(...this.fallbacks);
      list.push(dejavuSource(dejavuName('Helvetica', spec.bold, spec.italic)));
      const seen = new Set<string>();
      chain = Object.freeze(list.filter((s) => !seen.has(s.key) && seen.add(s.key)));
      this.chains.set(id, chain);
    }
    return chain;
  }
}

/** What a configured font entry must satisfy; the message names the config key (the caller adds the file). */
export function checkFontFile(f: ReportFontFile, where: string): string | null {
  if (!path.isAbsolute(f.file)) return `${where}.file must be an absolute path (it is "${f.file}")`;
  try {
    if (!fs.statSync(f.file).isFile()) return `${where}.file "${f.file}" is not a file`;
    fs.accessSync(f.file, fs.constants.R_OK);
  } catch {
    return `${where}.file "${f.file}" cannot be read`;
  }
  if (!/\.(ttf|otf|ttc|otc)$/i.test(f.file)) return `${where}.file "${f.file}" is not a TrueType or OpenType font (.ttf, .otf, .ttc, .otc)`;
  return null;
}
