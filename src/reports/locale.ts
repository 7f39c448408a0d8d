import type { Client } from '../db/pool';

/**
 * Builtin field formats (`<format builtin="true">money</format>`) computed in JS from xTuple's locale row, not by
 * calling formatMoney() & co. once per field as OpenRPT did: a 50-page invoice has thousands of formatted fields,
 * and a round trip each would dominate the render. The rules are those of xTuple's formatNumeric(value, type):
 * round half away from zero to the locale's scale for the type, the minus sign, decimal point and group
 * separator from locale_qtyformat (characters 2, 1 and 3), digits grouped by three.
 */
export interface NumberLocale {
  decimal: string;
  minus: string;
  group: string;
  /** formatNumeric's type (curr, qty, cost, ...) → decimal places. */
  scales: Record<string, number>;
}

/** OpenRPT tag → formatNumeric type and the factor the ERP function applies first (formatPrcnt multiplies by 100). */
const TAGS: Record<string, { type: string; factor: number }> = {
  qty: { type: 'qty', factor: 1 },
  qtyper: { type: 'qtyper', factor: 1 },
  extprice: { type: 'extprice', factor: 1 },
  purchprice: { type: 'purchprice', factor: 1 },
  salesprice: { type: 'salesprice', factor: 1 },
  price: { type: 'salesprice', factor: 1 },
  cost: { type: 'cost', factor: 1 },
  money: { type: 'curr', factor: 1 },
  weight: { type: 'weight', factor: 1 },
  ratio: { type: 'uomratio', factor: 1 },
  uomratio: { type: 'uomratio', factor: 1 },
  percent: { type: 'percent', factor: 100 },
  scrap: { type: 'percent', factor: 100 },
};

const SCALE_COLUMNS: Record<string, string> = {
  curr: 'locale_curr_scale', qty: 'locale_qty_scale', qtyper: 'locale_qtyper_scale', extprice: 'locale_extprice_scale',
  purchprice: 'locale_purchprice_scale', salesprice: 'locale_salesprice_scale', cost: 'locale_cost_scale',
  uomratio: 'locale_uomratio_scale', percent: 'locale_percent_scale', weight: 'locale_weight_scale',
};

/** Rounds a plain decimal string ("1234.5678") half away from zero to `scale` places, as numeric round() does. */
function roundDecimal(digits: string, scale: number): { whole: string; frac: string } {
  const [w = '0', f = ''] = digits.split('.');
  const padded = (f + '0'.repeat(scale + 1)).slice(0, scale + 1);
  let keep = w + padded.slice(0, scale);
  if (Number(padded[scale]) >= 5) {
    const arr = keep.split('').map(Number);
    let i = arr.length - 1;
    for (; i >= 0; i--) {
      if (arr[i]! < 9) {
        arr[i]!++;
        break;
      }
      arr[i] = 0;
    }
    keep = (i < 0 ? '1' : '') + arr.join('');
  }
  const cut = keep.length - scale;
  return { whole: keep.slice(0, cut).replace(/^0+(?=\d)/, ''), frac: keep.slice(cut) };
}

export function formatWithLocale(loc: NumberLocale, tag: string, value: number): string {
  const t = TAGS[tag.toLowerCase()] ?? { type: tag.toLowerCase(), factor: 1 };
  const scale = Math.max(0, Math.min(20, loc.scales[t.type] ?? 2));
  // OpenRPT hands the function the value to 6 decimals; NULL and non-numbers arrive as 0.
  const v = Number.isFinite(value) ? Number((value * t.factor).toFixed(6)) : 0;
  const { whole, frac } = roundDecimal(Math.abs(v).toFixed(6), scale);
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, loc.group);
  const negative = v < 0 && /[1-9]/.test(whole + frac);
  return (negative ? loc.minus : '') + grouped + (scale > 0 ? loc.decimal + frac : '');
}

/**
 * The locale of the user the report runs as, read once per render: usrpref locale_id of getEffectiveXtUser()
 * (CURRENT_USER where that function is missing), else the locale coded "default". Null on a database without
 * xTuple's locale table, where the renderer's own defaults apply.
 */
export async function readNumberLocale(client: Client): Promise<NumberLocale | null> {
  const { rows: cat } = await client.query<{ locale: boolean; usrpref: boolean; effective: boolean }>(
    `SELECT to_regclass('public.locale') IS NOT NULL AS locale,
            to_regclass('public.usrpref') IS NOT NULL AS usrpref,
            EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                     WHERE n.nspname = 'public' AND p.proname = 'geteffectivextuser' AND p.pronargs = 0) AS effective`,
  );
  const c = cat[0]!;
  if (!c.locale) return null;
  const who = c.effective ? 'public.getEffectiveXtUser()' : 'CURRENT_USER';
  const mine = c.usrpref
    ? `(SELECT usrpref_value::integer FROM public.usrpref
         WHERE usrpref_username = ${who} AND usrpref_name = 'locale_id' AND usrpref_value ~ '^[0-9]+$' LIMIT 1)`
    : 'NULL::integer';
  const { rows } = await client.query<Record<string, unknown>>(
    `SELECT to_jsonb(l) AS l FROM public.locale l
      WHERE l.locale_id = coalesce(${mine},
                                   (SELECT locale_id FROM public.locale WHERE lower(locale_code) = 'default' ORDER BY locale_id LIMIT 1))`,
  );
  const l = rows[0]?.l as Record<string, unknown> | undefined;
  if (!l) return null;
  const fmt = typeof l.locale_qtyformat === 'string' ? l.locale_qtyformat : '';
  const scales: Record<string, number> = {};
  for (const [type, col] of Object.entries(SCALE_COLUMNS)) {
    const n = Number(l[col]);
    if (l[col] !== null && l[col] !== undefined && Number.isInteger(n)) scales[type] = n;
  }
  return { decimal: fmt[0] || '.', minus: fmt[1] || '-', group: fmt[2] || ',', scales };
}
