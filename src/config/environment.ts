import { keyPath, type Path } from './problems';

/**
 * Environment variables that override keys of the file. They are laid over the parsed file before the schema
 * checks it, so a wrong value is reported once, naming the variable (`XTCONNECT_LOG_LEVEL must be one of ...`),
 * and the environment always wins over the file, as the docs say.
 */
export const ENV_KEYS: ReadonlyArray<{ env: string; path: readonly string[]; number?: boolean }> = [
  { env: 'DATABASE_URL', path: ['database', 'url'] },
  { env: 'XTCONNECT_LISTEN_URL', path: ['database', 'listenUrl'] },
  { env: 'XTCONNECT_SMTP_HOST', path: ['smtp', 'host'] },
  { env: 'XTCONNECT_SMTP_PORT', path: ['smtp', 'port'], number: true },
  { env: 'XTCONNECT_SMTP_SECURITY', path: ['smtp', 'security'] },
  { env: 'XTCONNECT_SMTP_USER', path: ['smtp', 'user'] },
  { env: 'XTCONNECT_SMTP_PASSWORD', path: ['smtp', 'password'] },
  { env: 'XTCONNECT_METRICS_LISTEN', path: ['metrics', 'listen'] },
  { env: 'XTCONNECT_LOG_LEVEL', path: ['log', 'level'] },
  { env: 'XTCONNECT_CONSOLE_LISTEN', path: ['console', 'listen'] },
];

type Raw = Record<string, unknown>;

export interface Overlaid {
  raw: Raw;
  /** The variable a key's value came from, for messages. */
  envAt(path: Path): string | undefined;
}

/** A command-line flag that overrides a key (it wins over the environment too). */
export interface FlagValue { flag: string; path: readonly string[]; value: string | undefined }

export function overlayEnvironment(file: Raw, env: NodeJS.ProcessEnv, flags: readonly FlagValue[] = []): Overlaid {
  const raw: Raw = structuredClone(file);
  const from = new Map<string, string>();
  const set = (name: string, path: readonly string[], value: unknown): void => {
    let obj = raw;
    for (const p of path.slice(0, -1)) {
      const next = obj[p];
      if (next === undefined || next === null) obj[p] = {};
      else if (typeof next !== 'object' || Array.isArray(next)) return; // the schema reports the broken section itself
      obj = obj[p] as Raw;
    }
    obj[path[path.length - 1]!] = value;
    from.set(keyPath(path), name);
  };
  for (const k of ENV_KEYS) {
    const v = env[k.env];
    // An empty variable is unset, as systemd's Environment= lines and shells leave them.
    if (v === undefined || v === '') continue;
    set(k.env, k.path, k.number && /^\d+$/.test(v.trim()) ? Number(v.trim()) : v);
  }
  for (const f of flags) if (f.value !== undefined && f.value !== '') set(f.flag, f.path, f.value);
  return { raw, envAt: (path) => from.get(keyPath(path)) };
}
