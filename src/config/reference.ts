import YAML from 'yaml';
import { z } from 'zod';
import type { FieldMeta } from './fields';
import { configSchema } from './schema';

/**
 * docs/configuration.md and xtconnect.example.yaml, generated from the schema so that neither can drift from
 * what the program accepts (`npm run docs:config` writes them; a test fails when the committed copies differ).
 */

interface Field {
  key: string;
  meta: Partial<FieldMeta>;
  type: string;
  dflt: unknown;
  /** Object sections and list entries have fields of their own. */
  children: Field[] | null;
  list: boolean;
}

function inner(s: z.ZodType): { core: z.ZodType; dflt: unknown } {
  let dflt: unknown;
  for (;;) {
    if (s instanceof z.ZodPipe) s = s.out as z.ZodType;
    else if (s instanceof z.ZodDefault) {
      dflt = s.def.defaultValue;
      s = s.unwrap() as z.ZodType;
    } else if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodType;
    else return { core: s, dflt };
  }
}

function describeType(s: z.ZodType): string {
  if (s instanceof z.ZodNumber) {
    const lo = s.minValue, hi = s.maxValue;
    return lo !== null && hi !== null && Number.isFinite(lo) && Number.isFinite(hi) ? `whole number, ${lo} to ${hi}` : 'number';
  }
  if (s instanceof z.ZodBoolean) return 'true or false';
  if (s instanceof z.ZodEnum) return (s.options as string[]).map((o) => `\`${o}\``).join(', ');
  if (s instanceof z.ZodRecord) return 'name: value lines';
  if (s instanceof z.ZodArray) return 'list';
  if (s instanceof z.ZodObject) return 'section';
  return 'text';
}

function fields(shape: Record<string, z.ZodType>): Field[] {
  return Object.entries(shape).map(([key, s]) => {
    const meta = ((s as z.ZodType).meta?.() ?? {}) as Partial<FieldMeta>;
    const { core, dflt } = inner(s);
    if (core instanceof z.ZodObject) {
      return { key, meta, type: 'section', dflt: undefined, children: fields(core.shape as Record<string, z.ZodType>), list: false };
    }
    if (core instanceof z.ZodArray) {
      const el = inner(core.element as z.ZodType).core;
      if (el instanceof z.ZodObject) {
        return { key, meta, type: 'list of entries', dflt: undefined, children: fields(el.shape as Record<string, z.ZodType>), list: true };
      }
      return { key, meta, type: `list of ${describeType(el)}`, dflt, children: null, list: false };
    }
    return { key, meta, type: describeType(core), dflt, children: null, list: false };
  });
}

const TOP = fields(configSchema.shape as unknown as Record<string, z.ZodType>);

function cell(v: unknown): string {
  if (v === undefined) return '';
  if (typeof v === 'object' && v !== null && Object.keys(v).length === 0) return '';
  return `\`${typeof v === 'string' ? v : JSON.stringify(v)}\``;
}

function table(list: Field[], prefix: string): string[] {
  const rows = ['| key | value | default | environment | meaning |', '|---|---|---|---|---|'];
  for (const f of list) {
    if (f.children && !f.list && prefix === '') continue; // sections get their own heading
    const desc = (f.meta.description ?? '').replace(/\|/g, '\\|');
    rows.push(`| \`${prefix}${f.key}\` | ${f.type} | ${cell(f.dflt)} | ${f.meta.env ? `\`${f.meta.env}\`` : ''} | ${desc}${f.meta.secret ? ' (secret)' : ''} |`);
    if (f.children && !f.list) for (const c of f.children) rows.push(...table([c], `${prefix}${f.key}.`).slice(2));
  }
  return rows;
}

export function renderReference(): string {
  const out = [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run docs:config`; do not edit by hand. -->',
    '',
    'One YAML file: `--config FILE`, else `$XTCONNECT_CONFIG`, else `/etc/xtconnect/xtconnect.yaml` (none at all: every',
    'default). Every key is optional. A misspelt key or a wrong value stops xtconnect with exit code 2 and a message',
    'that names every mistake in the file at once, each by its key (`mailboxes[1].port`) or by the environment variable',
    'it came from. Environment variables win over the file; `--database-url` wins over both. An empty variable counts',
    'as unset. Secrets belong in the environment (systemd: `EnvironmentFile=`); they never appear in logs or job rows.',
    '',
    'Per-entry secrets: `XTCONNECT_MAILBOX_<NAME>_PASSWORD` / `_ACCESSTOKEN` and `XTCONNECT_ENDPOINT_<NAME>_PASSWORD` /',
    '`_PASSPHRASE`, NAME upper-cased with every other character than A-Z and 0-9 turned into `_` (`acme-edi` → `ACME_EDI`).',
    'The standard `PG*` variables (PGHOST, PGUSER, PGPASSWORD, ...) point at the database when `database.url` is unset.',
    '',
    '## Top-level keys',
    '',
    ...table(TOP.filter((f) => !f.children), ''),
  ];
  for (const f of TOP.filter((x) => x.children)) {
    out.push('', `## \`${f.key}\`${f.list ? ' (a list)' : ''}`, '', f.meta.description ?? '', '');
    out.push(...table(f.children!, f.list ? `${f.key}[].` : `${f.key}.`));
  }
  return `${out.join('\n')}\n`;
}

function comment(text: string, indent: string): string[] {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if ((line + ' ' + w).length > 110 - indent.length && line) {
      lines.push(`${indent}# ${line}`);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(`${indent}# ${line}`);
  return lines;
}

function yamlValue(v: unknown): string {
  return YAML.stringify(v, { flow: true }).trim();
}

function sampleField(f: Field, indent: string): string[] {
  const desc = [f.meta.description ?? '', f.meta.env ? `Environment: ${f.meta.env}.` : ''].filter(Boolean).join(' ');
  const lines = comment(desc, indent);
  if (f.children && !f.list) {
    lines.push(`${indent}${f.key}:`);
    for (const c of f.children) lines.push(...sampleField(c, `${indent}  `));
    return lines;
  }
  if (f.list) {
    const example = f.meta.example;
    lines.push(`${indent}# ${f.key}:`);
    if (example !== undefined) {
      const body = YAML.stringify(example, { indent: 2 }).trimEnd().split('\n');
      for (const l of body) lines.push(`${indent}#   ${l}`);
    }
    return lines;
  }
  const empty = f.dflt === undefined || (typeof f.dflt === 'object' && f.dflt !== null && Object.keys(f.dflt).length === 0);
  if (!empty && !f.meta.secret) lines.push(`${indent}${f.key}: ${yamlValue(f.dflt)}`);
  else lines.push(`${indent}# ${f.key}: ${f.meta.example !== undefined ? yamlValue(f.meta.example) : ''}`.trimEnd());
  return lines;
}

export function renderSample(): string {
  const out = [
    '# xtconnect configuration: copy to /etc/xtconnect/xtconnect.yaml (or pass --config FILE / $XTCONNECT_CONFIG).',
    '# Generated from src/config/schema.ts by `npm run docs:config`; docs/configuration.md explains every key.',
    '# Every key is optional; the values shown are the defaults. Secrets belong in the environment (systemd:',
    '# EnvironmentFile=/etc/xtconnect/xtconnect.env), never here: DATABASE_URL or PG*, XTCONNECT_SMTP_PASSWORD,',
    '# XTCONNECT_MAILBOX_<NAME>_PASSWORD / _ACCESSTOKEN, XTCONNECT_ENDPOINT_<NAME>_PASSWORD / _PASSPHRASE.',
  ];
  for (const f of TOP) out.push('', ...sampleField(f, ''));
  return `${out.join('\n')}\n`;
}
