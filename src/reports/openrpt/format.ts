/**
 * Turning row values into the text a field shows (openrpt-reference §3 "field", §4).
 */

/**
 * What Qt prints for a value without a format. Numbers print shortest ("12.5"); dates print ISO; NULL prints
 * "". Qt's double-to-text rules are "Not determined" in the reference: JavaScript's shortest form is used, which
 * agrees with Qt for the values reports show (it differs only for exponent forms such as 1e+06).
 */
export function valueText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  if (typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value instanceof Date) return isoDateText(value);
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return '';
  if (Array.isArray(value)) return value.map(valueText).join(',');
  return String(value);
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/**
 * node-postgres gives `date` columns as a Date at local midnight, so a Date without a time of day prints as a
 * date (Qt's QDate) and any other as date and time (QDateTime, ISO without milliseconds).
 */
export function isoDateText(d: Date): string {
  if (Number.isNaN(d.getTime())) return '';
  const date = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  if (d.getHours() === 0 && d.getMinutes() === 0 && d.getSeconds() === 0 && d.getMilliseconds() === 0) return date;
  return `${date}T${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

export function timeText(d: Date): string {
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** QVariant::toDouble: numbers and numeric text convert; anything else does not (returns null). */
export function numberOf(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string') {
    const t = value.trim();
    if (t === '' || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return null;
    return Number(t);
  }
  if (typeof value === 'boolean') return value ? 1 : 0;
  return null;
}

const SPEC = /%([-+ 0#]*)(\*|\d+)?(?:\.(\d*))?(hh|h|ll|l|L|q|j|z|t)?([diouxXeEfFgGcsp%])/g;

/**
 * C printf with one argument, as QString::sprintf runs a field's `<format>`: a double when the value converts,
 * the text otherwise. C would misread a double under %d or a string under %f; here %d truncates the number and
 * numeric conversions of text that is not a number print 0, which is the sensible reading of such formats.
 */
export function printf(format: string, arg: number | string): string {
  let used = false;
  return format.replace(SPEC, (_m, flags: string, width: string | undefined, precision: string | undefined, _len, conv: string) => {
    if (conv === '%') return '%';
    // A second conversion in the pattern has no argument; C would print garbage, we print nothing.
    if (used) return '';
    used = true;
    const w = width && width !== '*' ? Number(width) : 0;
    const p = precision === undefined ? undefined : precision === '' ? 0 : Number(precision);
    const num = typeof arg === 'number' ? arg : (numberOf(arg) ?? 0);
    let body: string;
    let sign = '';
    switch (conv) {
      case 'd':
      case 'i':
      case 'u': {
        const n = Math.trunc(num);
        sign = n < 0 ? '-' : flags.includes('+') ? '+' : flags.includes(' ') ? ' ' : '';
        body = String(Math.abs(n));
        if (p !== undefined) body = body.padStart(p, '0');
        break;
      }
      case 'o':
      case 'x':
      case 'X': {
        const n = Math.trunc(Math.abs(num));
        body = n.toString(conv === 'o' ? 8 : 16);
        if (conv === 'X') body = body.toUpperCase();
        if (flags.includes('#') && n !== 0) body = (conv === 'o' ? '0' : conv === 'x' ? '0x' : '0X') + body;
        break;
      }
      case 'f':
      case 'F':
      case 'e':
      case 'E':
      case 'g':
      case 'G': {
        sign = num < 0 || Object.is(num, -0) ? '-' : flags.includes('+') ? '+' : flags.includes(' ') ? ' ' : '';
        body = formatFloat(Math.abs(num), conv, p ?? 6, flags.includes('#'));
        break;
      }
      case 'c':
        body = typeof arg === 'string' ? arg.charAt(0) : String.fromCharCode(Math.trunc(num));
        break;
      case 's': {
        body = typeof arg === 'string' ? arg : String(arg);
        if (p !== undefined) body = body.slice(0, p);
        break;
      }
      default:
        body = '';
    }
    const text = sign + body;
    if (text.length >= w) return text;
    if (flags.includes('-')) return text.padEnd(w, ' ');
    if (flags.includes('0') && 'diufFeEgGxXo'.includes(conv) && !(p !== undefined && 'diuxXo'.includes(conv))) {
      return sign + body.padStart(w - sign.length, '0');
    }
    return text.padStart(w, ' ');
  });
}

function formatFloat(v: number, conv: string, p: number, alt: boolean): string {
  if (!Number.isFinite(v)) return conv === conv.toUpperCase() ? 'INF' : 'inf';
  const exp = (s: string): string => s.replace(/e([+-])(\d)$/, 'e$10$2');
  switch (conv) {
    case 'f':
    case 'F':
      return v.toFixed(p);
    case 'e':
      return exp(v.toExponential(p));
    case 'E':
      return exp(v.toExponential(p)).toUpperCase();
    default: {
      const P = p === 0 ? 1 : p;
      const x = v === 0 ? 0 : Math.floor(Math.log10(Number(v.toExponential(P - 1))));
      let s = x < -4 || x >= P ? exp(v.toExponential(P - 1)) : v.toFixed(Math.max(0, P - 1 - x));
      if (!alt) s = s.replace(/\.?0+(e|$)/, '$1').replace(/\.$/, '');
      return conv === 'G' ? s.toUpperCase() : s;
    }
  }
}

/**
 * Decimal places xTuple's default locale uses for each builtin format (formatNumeric with the `locale` table's
 * default scales). `ratio` and `scrap` are assumptions: xTuple gives them the uom-ratio and percent scales.
 */
const BUILTIN_SCALE: Readonly<Record<string, number>> = {
  money: 2,
  qty: 2,
  qtyper: 6,
  extprice: 2,
  purchprice: 4,
  salesprice: 4,
  price: 4,
  cost: 4,
  weight: 2,
  ratio: 6,
  uomratio: 6,
  percent: 2,
  scrap: 2,
};

/**
 * xTuple's formatNumeric for a builtin tag when no database locale is at hand: rounded to the tag's scale,
 * "." decimal, "," groups, "-" minus. Percent (and scrap) values are fractions and print times 100, like
 * formatPrcnt/formatScrap. An unknown tag prints with 2 decimals.
 */
export function defaultBuiltinFormat(tag: string, value: number): string {
  const t = tag.trim().toLowerCase();
  const scale = BUILTIN_SCALE[t] ?? 2;
  const v = t === 'percent' || t === 'scrap' ? value * 100 : value;
  const fixed = Math.abs(v).toFixed(scale);
  const [int, frac] = fixed.split('.') as [string, string | undefined];
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const negative = v < 0 && Number(fixed) !== 0;
  return (negative ? '-' : '') + grouped + (frac !== undefined ? `.${frac}` : '');
}

/** The builtin functions get the value to 6 decimals (`SELECT fn(%.6f)`): round the same way first. */
export function builtinArgument(value: unknown): number {
  const n = numberOf(value) ?? 0;
  return Number(n.toFixed(6));
}
