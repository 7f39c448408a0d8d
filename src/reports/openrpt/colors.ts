/**
 * Colours as Qt's QColor(name) reads them: "#rgb", "#rrggbb", "#aarrggbb" or an SVG colour name. Only the
 * common names are listed; an unknown colour is treated as not set, which draws in the default (black), as an
 * invalid QColor does.
 */
const NAMED: Readonly<Record<string, string>> = {
  black: '#000000', white: '#ffffff', red: '#ff0000', green: '#008000', blue: '#0000ff', yellow: '#ffff00',
  cyan: '#00ffff', aqua: '#00ffff', magenta: '#ff00ff', fuchsia: '#ff00ff', gray: '#808080', grey: '#808080',
  darkgray: '#a9a9a9', darkgrey: '#a9a9a9', lightgray: '#d3d3d3', lightgrey: '#d3d3d3', silver: '#c0c0c0',
  darkred: '#8b0000', darkgreen: '#006400', darkblue: '#00008b', navy: '#000080', maroon: '#800000',
  olive: '#808000', teal: '#008080', purple: '#800080', orange: '#ffa500', brown: '#a52a2a', lime: '#00ff00',
  darkcyan: '#008b8b', darkmagenta: '#8b008b', darkyellow: '#808000', pink: '#ffc0cb', gold: '#ffd700',
  lightblue: '#add8e6', lightgreen: '#90ee90', lightyellow: '#ffffe0', darkorange: '#ff8c00', transparent: '',
};

export function parseColor(text: string | undefined | null): string | null {
  if (text === undefined || text === null) return null;
  const t = text.trim().toLowerCase();
  if (t === '') return null;
  let m = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/.exec(t);
  if (m) return `#${m[1]}${m[1]}${m[2]}${m[2]}${m[3]}${m[3]}`;
  m = /^#(?:[0-9a-f]{2})?([0-9a-f]{6})$/.exec(t);
  if (m) return `#${m[1]}`;
  const named = NAMED[t.replace(/\s+/g, '')];
  return named ? named : null;
}
