import type { z } from 'zod';
import { jsonWithoutSecrets, SECRET_KEY } from '../secrets';

/**
 * Turns schema issues into sentences an administrator acts on, one per mistake: the key's path as written in the
 * file (`mailboxes[1].port`), or the environment variable when the value came from one, what it must be, and what
 * it was.
 */

export type Path = ReadonlyArray<PropertyKey>;

export function keyPath(path: Path): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

function shown(v: unknown, secret: boolean): string {
  if (v === undefined) return 'nothing';
  // The value of a password key is never repeated, even when it is of the wrong type (a number, a list).
  if (secret) return 'a value not shown here: it is a secret';
  if (v instanceof Date) return JSON.stringify(v.toISOString());
  const s = jsonWithoutSecrets(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Keys known at a path of the schema, for "unknown key" messages. */
export type KnownKeys = (path: Path) => string[];

export function describeIssue(issue: z.core.$ZodIssue, envAt: (path: Path) => string | undefined, known: KnownKeys): string {
  const path = issue.path;
  if (issue.code === 'unrecognized_keys') {
    const where = keyPath(path);
    const keys = known(path);
    // Inside a list entry the entry is named first (`mailboxes[1]: unknown key "prot"`); elsewhere the whole path.
    if (path.some((p) => typeof p === 'number')) {
      return issue.keys.map((k) => `${where}: unknown key "${k}"${keys.length ? ` (known keys: ${keys.join(', ')})` : ''}`).join('; ');
    }
    return issue.keys.map((k) => `unknown key "${where ? `${where}.${k}` : k}"${keys.length ? ` (known keys here: ${keys.join(', ')})` : ''}`).join('; ');
  }
  const input = (issue as { input?: unknown }).input;
  const env = envAt(path);
  const subject = env ?? keyPath(path);
  // Field builders give the wanted form as their message ("a whole number from 1 to 1000"); zod's own defaults
  // ("Invalid input: ...") are rephrased.
  const want = issue.message.startsWith('Invalid') || issue.message.startsWith('Too ') ? genericWant(issue) : issue.message;
  if (input === undefined && issue.code === 'invalid_type') return `${subject} must be ${want} (it is missing)`;
  const last = path[path.length - 1];
  return `${subject} must be ${want} (got ${shown(input, typeof last === 'string' && SECRET_KEY.test(last))})`;
}

function genericWant(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected === 'string' ? 'text' : issue.expected === 'number' ? 'a number' : issue.expected === 'boolean' ? 'true or false'
        : issue.expected === 'array' ? 'a list' : issue.expected === 'object' ? 'a section of key: value lines' : String(issue.expected);
    case 'invalid_value':
      return `one of ${issue.values.map((v) => String(v)).join(', ')}`;
    case 'too_small':
      return `at least ${String(issue.minimum)}`;
    case 'too_big':
      return `at most ${String(issue.maximum)}`;
    default:
      return 'valid';
  }
}
