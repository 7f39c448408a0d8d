import path from 'node:path';
import { z } from 'zod';

/**
 * Field builders for the config schema. Each carries the phrase an administrator reads when the value is wrong
 * ("must be a whole number from 1 to 1000"), its description and, where one applies, the environment variable
 * that overrides it; docs/configuration.md and xtconnect.example.yaml are generated from the same metadata.
 */

export interface FieldMeta {
  description: string;
  /** Environment variable that wins over the file. */
  env?: string;
  /** A value for the sample file when the key has no default worth showing. */
  example?: unknown;
  /** Kept out of the sample file (secrets belong in the environment). */
  secret?: boolean;
}

const m = (meta: FieldMeta): Record<string, unknown> => ({ ...meta });

/** YAML's empty value (`key:`) and a missing key mean the same: take the default. */
const absent = (v: unknown): unknown => (v === null ? undefined : v);
/** For text keys, an empty string is absent too (`from: ""`). */
const absentText = (v: unknown): unknown => (v === null || v === '' ? undefined : v);

/** A host name or address as smtp.host, endpoints' and mailboxes' host take it: no scheme, user, path or space. */
export const isHostName = (h: string): boolean => !/[\s/@]/.test(h) && !h.includes('://');

export function int(min: number, max: number, dflt: number, meta: FieldMeta) {
  const want = { error: `a whole number from ${min} to ${max}` };
  return z.preprocess(absent, z.number(want).int(want).min(min, want).max(max, want).default(dflt)).meta(m(meta));
}

export function optionalInt(min: number, max: number, meta: FieldMeta, phrase = 'a whole number') {
  const want = { error: `${phrase} from ${min} to ${max}` };
  return z.preprocess(absent, z.number(want).int(want).min(min, want).max(max, want).optional()).meta(m(meta));
}

export function bool(dflt: boolean, meta: FieldMeta) {
  return z.preprocess(absent, z.boolean({ error: 'true or false' }).default(dflt)).meta(m(meta));
}

export function text(meta: FieldMeta) {
  return z.preprocess(absentText, z.string({ error: 'text' }).optional()).meta(m(meta));
}

export function textDefault(dflt: string, meta: FieldMeta) {
  return z.preprocess(absentText, z.string({ error: 'text' }).default(dflt)).meta(m(meta));
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T, dflt: T[number], meta: FieldMeta) {
  return z.preprocess(absent, z.enum(values, { error: `one of ${values.join(', ')}` }).default(dflt as never)).meta(m(meta));
}

/** Paths the daemon opens itself: absolute, because its working folder is not the config file's. */
export function absolutePath(meta: FieldMeta) {
  return z.preprocess(absentText, z.string({ error: 'an absolute path' })
    .refine((v) => path.isAbsolute(v), { error: 'an absolute path (the daemon\'s working folder is not the config file\'s)' })
    .optional()).meta(m(meta));
}

/** A folder that defaults to one under dataDir; relative paths are taken as written, as before. */
export function folder(meta: FieldMeta) {
  return text(meta);
}

/** A section: missing or empty means all defaults. */
export function section<S extends z.ZodRawShape>(shape: S, meta: FieldMeta) {
  return z.preprocess((v) => (v === null || v === undefined ? {} : v),
    z.strictObject(shape, { error: 'a section of key: value lines' })).meta(m(meta));
}

/** A list of entries; missing or empty means none. */
export function list<T extends z.ZodTypeAny>(item: T, meta: FieldMeta) {
  return z.preprocess((v) => (v === null || v === undefined ? [] : v), z.array(item, { error: 'a list of entries (- name: ...)' })).meta(m(meta));
}

/** `action: number` lines (per-action limits). */
export function intMap(min: number, max: number, meta: FieldMeta) {
  const want = { error: `a whole number from ${min} to ${max}` };
  return z.preprocess((v) => (v === null || v === undefined ? {} : v),
    z.record(z.string(), z.number(want).int(want).min(min, want).max(max, want), { error: 'a section of action: number lines' })).meta(m(meta));
}

/** "port" or "host:port"; a bare port binds to loopback. */
export const LISTEN = /^(?:(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/;

export function listen(meta: FieldMeta & { example: string }) {
  const want = `a port or host:port such as ${meta.example}`;
  return z.preprocess((v) => (v === null || v === '' ? undefined : typeof v === 'number' ? String(v) : v),
    z.string({ error: want }).refine((v) => {
      const mm = LISTEN.exec(v.trim());
      const port = mm ? Number(mm[2]) : NaN;
      return !!mm && port >= 1 && port <= 65535;
    }, { error: want }).optional()).meta(m(meta));
}

export function parseListen(v: string | undefined): { host: string; port: number } | null {
  if (v === undefined) return null;
  const mm = LISTEN.exec(v.trim())!;
  return { host: (mm[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port: Number(mm[2]) };
}

const UNIT: Record<string, number> = { d: 86_400, h: 3600, m: 60, s: 1 };

/** A duration such as "48h", "90m", "1h30m", "2d" or "30s", or a number of seconds; yields seconds. */
export function duration(min: number, max: number, dflt: number | undefined, meta: FieldMeta) {
  const want = `a duration from ${min} s to ${max / 86_400} days, such as "48h", "90m", "1h30m", "2d" or a number of seconds`;
  const toSeconds = (v: unknown): unknown => {
    if (v === null || v === undefined) return undefined;
    if (typeof v === 'string' && /^\s*(?:\d+\s*[dhms]\s*)+$/i.test(v)) {
      return [...v.matchAll(/(\d+)\s*([dhms])/gi)].reduce((a, mm) => a + Number(mm[1]) * UNIT[mm[2]!.toLowerCase()]!, 0);
    }
    return v;
  };
  const n = z.number({ error: want }).min(min, { error: want }).max(max, { error: want });
  return z.preprocess(toSeconds, dflt === undefined ? n.optional() : n.default(dflt)).meta(m(meta));
}
