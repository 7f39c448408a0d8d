import path from 'node:path';
import { ConfigError } from '../errors';

export type ImapSecurity = 'tls' | 'starttls' | 'none';
export type AfterImport = 'none' | 'move' | 'flag';

export const SECURITIES: readonly ImapSecurity[] = ['tls', 'starttls', 'none'];
export const AFTER_IMPORT: readonly AfterImport[] = ['none', 'move', 'flag'];

/** One IMAP mailbox the EmailSync action reads (config `mailboxes:`). Secrets are already resolved. */
export interface Mailbox {
  name: string;
  host: string;
  port: number;
  security: ImapSecurity;
  user: string;
  /** One of password and accessToken (OAuth2, XOAUTH2/OAUTHBEARER) is set. */
  password: string | null;
  accessToken: string | null;
  /** Folders read in order; INBOX when the file names none. */
  folders: string[];
  /** The mailbox's own address: never made a contact (every message would link to it). */
  address: string | null;
  afterImport: AfterImport;
  /** afterImport "move": the folder imported messages go to (it must exist). */
  moveTo: string | null;
  /** afterImport "flag": the IMAP flag or keyword set on imported messages. */
  flag: string | null;
  tls: {
    /** PEM file of the CA (or the server's self-signed certificate) to trust instead of the system's. */
    caPath: string | null;
    rejectUnauthorized: boolean;
    servername: string | null;
  };
  /** Connect, greeting and idle-socket timeout. */
  timeoutMs: number;
  /** Messages fetched per round trip; a batch also stops at batchBytes so large mail never piles up in memory. */
  batchSize: number;
  batchBytes: number;
}

const KEYS = ['name', 'host', 'port', 'security', 'user', 'password', 'accessToken', 'folders', 'address', 'afterImport',
  'moveTo', 'flag', 'tls', 'timeoutMs', 'batchSize'] as const;
const TLS_KEYS = ['caPath', 'rejectUnauthorized', 'servername'] as const;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
/** A system flag (\Seen) or a keyword ($Imported, xtImported): RFC 3501 atoms without the specials. */
const FLAG = /^(\\[A-Za-z]+|[^\s()\]{%*"\\\x00-\x1f\x7f]+)$/;
const DEFAULT_FLAG = '$XtImported';
const DEFAULT_PORT: Record<ImapSecurity, number> = { tls: 993, starttls: 143, none: 143 };

/**
 * The environment variable holding one secret of a mailbox: XTCONNECT_MAILBOX_<NAME>_PASSWORD or _ACCESSTOKEN,
 * NAME upper-cased with every character other than A-Z and 0-9 turned into "_" ("sales-in" → SALES_IN).
 */
export function mailboxEnvVar(name: string, secret: 'PASSWORD' | 'ACCESSTOKEN'): string {
  return `XTCONNECT_MAILBOX_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_${secret}`;
}

type Entry = Record<string, unknown>;

class EntryReader {
  constructor(private readonly where: string) {}

  error(key: string, want: string, got: unknown): ConfigError {
    return new ConfigError(`${this.where}.${key} must be ${want} (got ${JSON.stringify(got)})`);
  }

  text(e: Entry, key: string, prefix = ''): string | null {
    const v = e[key];
    if (v === undefined || v === null || v === '') return null;
    if (typeof v !== 'string') throw this.error(prefix + key, 'text', v);
    return v;
  }

  int(e: Entry, key: string, dflt: number, min: number, max: number): number {
    const v = e[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw this.error(key, `a whole number from ${min} to ${max}`, v);
    return v;
  }

  oneOf<T extends string>(e: Entry, key: string, dflt: T, allowed: readonly T[]): T {
    const v = e[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'string' || !allowed.includes(v as T)) throw this.error(key, `one of ${allowed.join(', ')}`, v);
    return v as T;
  }
}

function readFolders(r: EntryReader, e: Entry): string[] {
  const v = e.folders;
  if (v === undefined || v === null) return ['INBOX'];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || list.some((f) => typeof f !== 'string' || f.trim() === '')) {
    throw r.error('folders', 'a list of folder names such as [INBOX, Support]', v);
  }
  const folders = (list as string[]).map((f) => f.trim());
  const dup = folders.find((f, i) => folders.indexOf(f) !== i);
  if (dup) throw r.error('folders', 'a list without repeats', v);
  return folders;
}

function readTls(r: EntryReader, where: string, e: Entry): Mailbox['tls'] {
  const v = e.tls;
  const tls: Mailbox['tls'] = { caPath: null, rejectUnauthorized: true, servername: null };
  if (v === undefined || v === null) return tls;
  if (typeof v !== 'object' || Array.isArray(v)) throw r.error('tls', 'a section (caPath, rejectUnauthorized, servername)', v);
  const t = v as Entry;
  for (const k of Object.keys(t)) {
    if (!(TLS_KEYS as readonly string[]).includes(k)) throw new ConfigError(`${where}.tls: unknown key "${k}" (known keys here: ${TLS_KEYS.join(', ')})`);
  }
  tls.caPath = r.text(t, 'caPath', 'tls.');
  if (tls.caPath !== null && !path.isAbsolute(tls.caPath)) throw r.error('tls.caPath', 'an absolute path', tls.caPath);
  if (t.rejectUnauthorized !== undefined && t.rejectUnauthorized !== null) {
    if (typeof t.rejectUnauthorized !== 'boolean') throw r.error('tls.rejectUnauthorized', 'true or false', t.rejectUnauthorized);
    tls.rejectUnauthorized = t.rejectUnauthorized;
  }
  tls.servername = r.text(t, 'servername', 'tls.');
  return tls;
}

/**
 * Parses the `mailboxes:` list of the config file; throws ConfigError naming the entry and key (`mailboxes[1].port`).
 * Passwords and OAuth2 access tokens may (and should) come from the environment, XTCONNECT_MAILBOX_<NAME>_PASSWORD
 * and XTCONNECT_MAILBOX_<NAME>_ACCESSTOKEN (see mailboxEnvVar), which win over the file.
 */
export function parseMailboxes(raw: unknown, source: string, env: NodeJS.ProcessEnv): Mailbox[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new ConfigError(`${source}: mailboxes must be a list of entries (- name: ..., host: ..., user: ...)`);
  const seen = new Map<string, number>();
  return raw.map((item, i) => {
    const where = `${source}: mailboxes[${i}]`;
    if (!item || typeof item !== 'object' || Array.isArray(item)) {
      throw new ConfigError(`${where} must be a section (name, host, user, password, ...)`);
    }
    const e = item as Entry;
    for (const k of Object.keys(e)) {
      if (!(KEYS as readonly string[]).includes(k)) throw new ConfigError(`${where}: unknown key "${k}" (known keys: ${KEYS.join(', ')})`);
    }
    const r = new EntryReader(where);
    const name = r.text(e, 'name');
    if (!name || !NAME.test(name)) throw r.error('name', 'a name of letters, digits, "_", "-" or "." (jobs pick the mailbox by it)', e.name);
    const first = seen.get(name.toLowerCase());
    if (first !== undefined) throw new ConfigError(`${where}.name "${name}" is used twice (also mailboxes[${first}])`);
    seen.set(name.toLowerCase(), i);

    const host = r.text(e, 'host');
    if (!host || /[\s/@]/.test(host) || host.includes('://')) throw r.error('host', 'a host name or IP address (no scheme, user or path)', e.host);
    const security = r.oneOf(e, 'security', 'tls', SECURITIES);
    const user = r.text(e, 'user');
    if (!user) throw r.error('user', 'the login name', e.user);
    const password = env[mailboxEnvVar(name, 'PASSWORD')] || r.text(e, 'password');
    const accessToken = env[mailboxEnvVar(name, 'ACCESSTOKEN')] || r.text(e, 'accessToken');
    if (!password && !accessToken) {
      throw new ConfigError(`${where} (${name}): a mailbox needs a password or an OAuth2 accessToken (in the file, or ` +
        `${mailboxEnvVar(name, 'PASSWORD')} / ${mailboxEnvVar(name, 'ACCESSTOKEN')} in the environment)`);
    }
    if (password && accessToken) {
      throw new ConfigError(`${where} (${name}): set a password or an accessToken, not both`);
    }
    const address = r.text(e, 'address') ?? (user.includes('@') ? user : null);
    if (address !== null && !/^[^\s@]+@[^\s@]+$/.test(address)) throw r.error('address', 'the mailbox\'s own email address', address);

    const afterImport = r.oneOf(e, 'afterImport', 'none', AFTER_IMPORT);
    const moveTo = r.text(e, 'moveTo');
    let flag = r.text(e, 'flag');
    if (afterImport === 'move' && !moveTo) throw r.error('moveTo', 'the folder imported messages are moved to (afterImport is move)', e.moveTo);
    if (afterImport !== 'move' && moveTo) throw new ConfigError(`${where}.moveTo (${name}): applies only with afterImport: move`);
    if (afterImport !== 'flag' && flag) throw new ConfigError(`${where}.flag (${name}): applies only with afterImport: flag`);
    if (afterImport === 'flag') {
      flag ??= DEFAULT_FLAG;
      if (!FLAG.test(flag)) throw r.error('flag', 'an IMAP flag such as \\Seen or a keyword such as $XtImported', flag);
    }
    const folders = readFolders(r, e);
    if (moveTo && folders.includes(moveTo)) {
      throw new ConfigError(`${where}.moveTo (${name}): "${moveTo}" is also one of the folders read; move to a folder that is not read`);
    }
    return {
      name,
      host,
      port: r.int(e, 'port', DEFAULT_PORT[security], 1, 65535),
      security,
      user,
      password: password ?? null,
      accessToken: accessToken ?? null,
      folders,
      address: address?.toLowerCase() ?? null,
      afterImport,
      moveTo: afterImport === 'move' ? moveTo : null,
      flag: afterImport === 'flag' ? flag : null,
      tls: readTls(r, where, e),
      timeoutMs: r.int(e, 'timeoutMs', 60_000, 1000, 600_000),
      batchSize: r.int(e, 'batchSize', 100, 1, 1000),
      batchBytes: 16 * 1024 * 1024,
    };
  });
}

/** "imap user@host:port" for messages; never the secret. */
export function describeMailbox(mb: Pick<Mailbox, 'name' | 'host' | 'port' | 'user' | 'security'>): string {
  const scheme = mb.security === 'tls' ? 'imaps' : 'imap';
  return `mailbox "${mb.name}" (${scheme}://${mb.user}@${mb.host.includes(':') ? `[${mb.host}]` : mb.host}:${mb.port})`;
}
