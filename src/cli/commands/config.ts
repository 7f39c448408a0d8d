import { addExclusion, readSettings, removeExclusion, SETTING_NAMES, writeSetting } from '../../db/queries/settings';
import { ConfigError } from '../../errors';
import { patternProblem } from '../../settings/patterns';
import type { CommandContext } from '../context';
import { withPool } from '../context';

type Kind = 'bool' | 'email' | 'days';
const SETTINGS: Record<string, Kind> = {
  [SETTING_NAMES.enabled]: 'bool',
  [SETTING_NAMES.defaultFrom]: 'email',
  [SETTING_NAMES.purgeDays]: 'days',
  [SETTING_NAMES.createContacts]: 'bool',
};

/** Checks a value before it reaches the database, so a typo cannot switch the batch manager off. */
export function normaliseSetting(name: string, value: string): string {
  const kind = SETTINGS[name];
  if (!kind) throw new ConfigError(`unknown setting "${name}"; settings are ${Object.keys(SETTINGS).join(', ')}`);
  const v = value.trim();
  switch (kind) {
    case 'bool':
      if (/^(t|true|1|yes|on)$/i.test(v)) return 't';
      if (/^(f|false|0|no|off)$/i.test(v)) return 'f';
      throw new ConfigError(`${name} must be true or false (got "${value}")`);
    case 'days':
      if (/^\d+$/.test(v) && Number(v) <= 36500) return String(Number(v));
      throw new ConfigError(`${name} must be a whole number of days, 0 for never (got "${value}")`);
    case 'email':
      if (v === '' || /^[^\s@]+@[^\s@]+$/.test(v)) return v;
      throw new ConfigError(`${name} must be an email address (got "${value}")`);
  }
}

export async function configGetCommand(ctx: CommandContext, name: string | undefined, json: boolean, out: NodeJS.WritableStream): Promise<number> {
  const s = await withPool(ctx, readSettings);
  const values: Record<string, unknown> = {
    [SETTING_NAMES.enabled]: s.enabled,
    [SETTING_NAMES.defaultFrom]: s.defaultFrom ?? '',
    [SETTING_NAMES.purgeDays]: s.purgeDays ?? 0,
    [SETTING_NAMES.createContacts]: s.createContacts,
    ExcludeContactsMatching: s.exclusions,
  };
  if (name) {
    if (!(name in values)) throw new ConfigError(`unknown setting "${name}"; settings are ${Object.keys(values).join(', ')}`);
    out.write((json ? JSON.stringify(values[name]) : Array.isArray(values[name]) ? (values[name] as string[]).join('\n') : String(values[name])) + '\n');
    return 0;
  }
  if (json) out.write(JSON.stringify(values) + '\n');
  else for (const [k, v] of Object.entries(values)) out.write(`${k.padEnd(30)} ${Array.isArray(v) ? v.join(', ') : String(v)}\n`);
  return 0;
}

export async function configSetCommand(ctx: CommandContext, name: string, value: string, out: NodeJS.WritableStream): Promise<number> {
  const v = normaliseSetting(name, value);
  await withPool(ctx, (pool) => writeSetting(pool, name, v));
  out.write(`${name} = ${v}\n`);
  return 0;
}

export async function excludeCommand(ctx: CommandContext, op: 'add' | 'remove' | 'list', pattern: string | undefined, out: NodeJS.WritableStream): Promise<number> {
  if (op === 'list') {
    const s = await withPool(ctx, readSettings);
    for (const p of s.exclusions) out.write(p + '\n');
    return 0;
  }
  if (!pattern) throw new ConfigError(`config exclude ${op} needs a PATTERN`);
  if (op === 'add') {
    const problem = patternProblem(pattern);
    if (problem) throw new ConfigError(`pattern "${pattern}" ${problem}; examples: bob@example.com, example.com, *@example.com, *.example.org, noreply@*`);
    const added = await withPool(ctx, (pool) => addExclusion(pool, pattern.trim().toLowerCase()));
    out.write(added ? `added ${pattern.trim().toLowerCase()}\n` : `${pattern} was already in the list\n`);
    return 0;
  }
  const removed = await withPool(ctx, (pool) => removeExclusion(pool, pattern.trim().toLowerCase()));
  out.write(removed ? `removed ${pattern}\n` : `${pattern} is not in the list\n`);
  return removed ? 0 : 1;
}
