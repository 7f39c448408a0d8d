/**
 * Barcodes as bars (openrpt-reference §3 "barcode"): Code 39 (3of9) and Code 128 are drawn; the other
 * symbologies OpenRPT knows (3of9+, i2of5, EAN, UPC, DataMatrix, PDF417, QR) draw nothing here. Bars fill the
 * rect height and there is no human-readable text, as in OpenRPT. All lengths in 1/100 inch.
 */
import type { BarcodeElement } from './model';

export interface Bars {
  /** Left edge offset from the rect's left, then width, for each bar. */
  bars: number[];
}

// Code 39: nine elements per character (bar, space, bar, ...), 1 = wide.
const CODE39: Readonly<Record<string, string>> = {
  '0': '000110100', '1': '100100001', '2': '001100001', '3': '101100000', '4': '000110001', '5': '100110000',
  '6': '001110000', '7': '000100101', '8': '100100100', '9': '001100100', A: '100001001', B: '001001001',
  C: '101001000', D: '000011001', E: '100011000', F: '001011000', G: '000001101', H: '100001100', I: '001001100',
  J: '000011100', K: '100000011', L: '001000011', M: '101000010', N: '000010011', O: '100010010', P: '001010010',
  Q: '000000111', R: '100000110', S: '001000110', T: '000010110', U: '110000001', V: '011000001', W: '111000000',
  X: '010010001', Y: '110010000', Z: '011010000', '-': '010000101', '.': '110000100', ' ': '011000100',
  $: '010101000', '/': '010100010', '+': '010001010', '%': '000101010', '*': '010010100',
};

/** Code 128 symbol widths (bar, space, ...), values 0..105; 106 is the stop pattern. */
export const CODE128 = [
  '212222', '222122', '222221', '121223', '121322', '131222', '122213', '122312', '132212', '221213', '221312',
  '231212', '112232', '122132', '122231', '113222', '123122', '123221', '223211', '221132', '221231', '213212',
  '223112', '312131', '311222', '321122', '321221', '312212', '322112', '322211', '212123', '212321', '232121',
  '111323', '131123', '131321', '112313', '132113', '132311', '211313', '231113', '231311', '112133', '112331',
  '132131', '113123', '113321', '133121', '313121', '211331', '231131', '213113', '213311', '213131', '311123',
  '311321', '331121', '312113', '312311', '332111', '314111', '221411', '431111', '111224', '111422', '121124',
  '121421', '141122', '141221', '112214', '112412', '122114', '122411', '142112', '142211', '241211', '221114',
  '413111', '241112', '134111', '111242', '121142', '121241', '114212', '124112', '124211', '411212', '421112',
  '421211', '212141', '214121', '412121', '111143', '111341', '131141', '114113', '114311', '411113', '411311',
  '113141', '114131', '311141', '411131', '211412', '211214', '211232', '2331112',
];

/** Code 39 elements (1 = wide) for a text, with start/stop; characters Code 39 lacks are left out. */
export function code39Elements(text: string): string[] {
  const chars = [...text.toUpperCase()].filter((c) => c !== '*' && CODE39[c] !== undefined);
  return ['*', ...chars, '*'].map((c) => CODE39[c]!);
}

/** Code 128 symbol values with check and stop: set C for an all-digit even-length text, set B otherwise. */
export function code128Values(text: string): number[] {
  const values: number[] = [];
  if (text.length >= 2 && text.length % 2 === 0 && /^\d+$/.test(text)) {
    values.push(105);
    for (let i = 0; i < text.length; i += 2) values.push(Number(text.slice(i, i + 2)));
  } else {
    values.push(104);
    for (const ch of text) {
      const code = ch.charCodeAt(0);
      if (code >= 32 && code <= 127) values.push(code - 32);
    }
  }
  let check = values[0]!;
  for (let i = 1; i < values.length; i++) check += values[i]! * i;
  values.push(check % 103, 106);
  return values;
}

/** Bars for a barcode element's value, or null when the symbology is not drawn or the value is empty. */
export function barsFor(el: BarcodeElement, value: string): Bars | null {
  if (value === '') return null;
  const narrow = el.narrowBarWidth * 100;
  const runs: Array<[bar: boolean, width: number]> = [];
  const fmt = el.format.toLowerCase();
  if (fmt === '3of9') {
    // OpenRPT: wide = 2.5 x narrow, one narrow gap between characters.
    for (const [i, pattern] of code39Elements(value).entries()) {
      if (i > 0) runs.push([false, narrow]);
      for (let k = 0; k < 9; k++) runs.push([k % 2 === 0, pattern[k] === '1' ? narrow * 2.5 : narrow]);
    }
  } else if (fmt === '128') {
    for (const v of code128Values(value)) {
      const widths = CODE128[v]!;
      for (let k = 0; k < widths.length; k++) runs.push([k % 2 === 0, Number(widths[k]) * narrow]);
    }
  } else {
    return null;
  }
  const total = runs.reduce((s, r) => s + r[1], 0);
  // Quiet zone: 10 narrow bars or 0.25 in, whichever is more, on the aligned side.
  const quiet = Math.max(10 * narrow, 25);
  let x = el.align === 'left' ? quiet : el.align === 'right' ? el.rect.w - quiet - total : (el.rect.w - total) / 2;
  const bars: number[] = [];
  for (const [bar, w] of runs) {
    if (bar) bars.push(x, w);
    x += w;
  }
  return { bars };
}
