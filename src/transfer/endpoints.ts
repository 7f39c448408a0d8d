import path from 'node:path';
import type { Pool } from '../db/pool';
import { ConfigError, PermanentError } from '../errors';

export type TransferProtocol = 'ftp' | 'ftps' | 'ftps-implicit' | 'sftp';

export const PROTOCOLS: readonly TransferProtocol[] = ['ftp', 'ftps', 'ftps-implicit', 'sftp'];

const DEFAULT_PORT: Record<TransferProtocol, number> = { ftp: 21, ftps: 21, 'ftps-implicit': 990, sftp: 22 };

/**
 * How an SFTP server proves who it is. At least one of the two is set for every SFTP endpoint: there is no
 * "accept any key" mode, because a job that sends invoices to whoever answers on the port is worse than one that fails.
 */
export interface HostKeyPin {
  /** OpenSSH-style SHA-256 fingerprints ("SHA256:" + unpadded base64); any one of them may match. */
  fingerprints: string[];
  /** An OpenSSH known_hosts file (plain or hashed host names, [host]:port for other ports). */
  knownHostsPath: string | null;
}

export interface EndpointTls {
  /** PEM file of the CA (or the server's own self-signed certificate) to trust instead of the system's CAs. */
  caPath: string | null;
  /** Name the certificate must carry when it differs from `host` (a server reached by IP address, say). */
  servername: string | null;
}

/** A remote place files go to or come from. Secrets are already resolved (file or environment). */
export interface Endpoint {
  name: string;
  protocol: TransferProtocol;
  host: string;
  port: number;
  user: string;
  password: string | null;
  /** SFTP only: an OpenSSH or PEM private key file. */
  privateKeyPath: string | null;
  passphrase: string | null;
  /** Folder on the server, absolute or relative to the login folder; '' is the login folder itself. */
  remoteDir: string;
  hostKey: HostKeyPin;
  tls: EndpointTls;
  /** Connect, reply and idle-transfer timeout. */
  timeoutMs: number;
  /** Where the definition came from, for messages: the config file or the EDI profile. */
  origin: string;
}

const KEYS = ['name', 'protocol', 'host', 'port', 'user', 'password', 'privateKeyPath', 'passphrase', 'remoteDir',
  'hostKey', 'tls', 'timeoutMs'] as const;
const HOST_KEY_KEYS = ['fingerprint', 'knownHostsPath'] as const;
const TLS_KEYS = ['caPath', 'servername'] as const;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
/** What `ssh-keygen -lf` prints: 32 bytes of SHA-256 as base64 without the trailing "=". */
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

/**
 * The environment variable holding one secret of an endpoint: XTCONNECT_ENDPOINT_<NAME>_PASSWORD or _PASSPHRASE,
 * NAME upper-cased with every character other than A-Z and 0-9 turned into "_" ("acme-edi" → ACME_EDI).
 */
export function endpointEnvVar(name: string, secret: 'PASSWORD' | 'PASSPHRASE'): string {
  return `XTCONNECT_ENDPOINT_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_${secret}`;
}

type Entry = Record<string, unknown>;

class EntryReader {
  constructor(private readonly where: string) {}

  error(key: string, want: string, got: unknown): ConfigError {
    return new ConfigError(`${this.where}.${key} must be ${want} (got ${JSON.stringify(got)})`);
  }

  fail(key: string, want: string, got: unknown): never {
    throw this.error(key, want, got);
  }

  text(e: Entry, key: string): string | null {
    const v = e[key];
    if (v === undefined || v === null || v === '') return null;
    if (typeof v !== 'string') this.fail(key, 'text', v);
    return v;
  }

  int(e: Entry, key: string, dflt: number, min: number, max: number): number {
    const v = e[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(key, `a whole number from ${min} to ${max}`, v);
    return v;
  }

  section(e: Entry, key: string, known: readonly string[]): Entry | null {
    const v = e[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(key, 'a section of key: value lines', v);
    for (const k of Object.keys(v as Entry)) {
      if (!known.includes(k)) throw new ConfigError(`${this.where}.${key}: unknown key "${k}" (known keys here: ${known.join(', ')})`);
    }
    return v as Entry;
  }

  absolutePath(e: Entry, key: string, prefix = ''): string | null {
    const v = this.text(e, key);
    if (v !== null && !path.isAbsolute(v)) {
      throw new ConfigError(`${this.where}.${prefix}${key} must be an absolute path (got ${JSON.stringify(v)}): ` +
        'the daemon\'s working folder is not the config file\'s');
    }
    return v;
  }
}

function readHostKey(r: EntryReader, where: string, e: Entry): HostKeyPin {
  const hk = r.section(e, 'hostKey', HOST_KEY_KEYS);
  const pin: HostKeyPin = { fingerprints: [], knownHostsPath: null };
  if (!hk) return pin;
  const fp = hk.fingerprint;
  const list = fp === undefined || fp === null ? [] : Array.isArray(fp) ? fp : [fp];
  list.forEach((f, i) => {
    const key = Array.isArray(fp) ? `hostKey.fingerprint[${i}]` : 'hostKey.fingerprint';
    if (typeof f !== 'string' || !FINGERPRINT.test(f.trim())) {
      throw new ConfigError(`${where}.${key} must be a SHA-256 fingerprint as "ssh-keygen -lf" prints it, ` +
        `"SHA256:" followed by 43 base64 characters (got ${JSON.stringify(f)})`);
    }
    pin.fingerprints.push(f.trim());
  });
  pin.knownHostsPath = r.absolutePath(hk, 'knownHostsPath', 'hostKey.');
  return pin;
}

/**
 * The config file's `endpoints:` list. Each entry is checked here, so a daemon never starts with an endpoint a job
 * could not use; ConfigError names the entry and key (`endpoints[2].port`). Passwords and key passphrases may (and
 * should) come from the environment: XTCONNECT_ENDPOINT_<NAME>_PASSWORD and XTCONNECT_ENDPOINT_<NAME>_PASSPHRASE
 * (see endpointEnvVar), which win over the file.
 */
export function parseEndpoints(raw: unknown, source: string, env: NodeJS.ProcessEnv = process.env): Endpoint[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    throw new ConfigError(`${source}: endpoints must be a list of entries (- name: ..., protocol: ..., host: ...)`);
  }
  const seen = new Map<string, number>();
  return raw.map((item, i) => {
    const where = `${source}: endpoints[${i}]`;
    if (!item || typeof item !== 'object' || Array.isArray(item)) {
      throw new ConfigError(`${where} must be a section (name, protocol, host, user, ...)`);
    }
    const e = item as Entry;
    for (const k of Object.keys(e)) {
      if (!(KEYS as readonly string[]).includes(k)) throw new ConfigError(`${where}: unknown key "${k}" (known keys: ${KEYS.join(', ')})`);
    }
    const r = new EntryReader(where);
    const name = r.text(e, 'name');
    if (!name || !NAME.test(name)) {
      throw r.error('name', 'a name of letters, digits, "_", "-" or "." (jobs name the endpoint by it)', e.name);
    }
    const first = seen.get(name.toLowerCase());
    if (first !== undefined) throw new ConfigError(`${where}.name "${name}" is used twice (also endpoints[${first}])`);
    seen.set(name.toLowerCase(), i);

    const protocol = e.protocol;
    if (typeof protocol !== 'string' || !(PROTOCOLS as readonly string[]).includes(protocol)) {
      r.fail('protocol', `one of ${PROTOCOLS.join(', ')}`, protocol);
    }
    const proto = protocol as TransferProtocol;
    const host = r.text(e, 'host');
    if (!host || /[\s/@]/.test(host) || host.includes('://')) {
      throw r.error('host', 'a host name or IP address (no scheme, user or path)', e.host);
    }
    const user = r.text(e, 'user');
    if (!user) throw r.error('user', 'the login name', e.user);

    // An explicit empty password is a real one (anonymous FTP); only a missing one is "none".
    const password = env[endpointEnvVar(name, 'PASSWORD')] ?? (e.password === '' ? '' : r.text(e, 'password'));
    const passphrase = env[endpointEnvVar(name, 'PASSPHRASE')] ?? r.text(e, 'passphrase');
    const privateKeyPath = r.absolutePath(e, 'privateKeyPath');
    const hostKey = readHostKey(r, where, e);
    const tlsSection = r.section(e, 'tls', TLS_KEYS);
    const tls: EndpointTls = {
      caPath: tlsSection ? r.absolutePath(tlsSection, 'caPath', 'tls.') : null,
      servername: tlsSection ? r.text(tlsSection, 'servername') : null,
    };

    if (proto === 'sftp') {
      if (!password && !privateKeyPath) {
        throw new ConfigError(`${where} (${name}): an sftp endpoint needs privateKeyPath or a password ` +
          `(password: in the file, or ${endpointEnvVar(name, 'PASSWORD')} in the environment)`);
      }
      if (hostKey.fingerprints.length === 0 && !hostKey.knownHostsPath) {
        throw new ConfigError(`${where}.hostKey (${name}): an sftp endpoint needs hostKey.fingerprint ` +
          '(SHA256:..., from "ssh-keyscan -p PORT HOST | ssh-keygen -lf -", checked with the server\'s administrator) ' +
          'or hostKey.knownHostsPath; xtconnect never accepts an unknown host key');
      }
      if (tlsSection) throw new ConfigError(`${where}.tls (${name}): tls applies to ftps and ftps-implicit, not sftp`);
    } else {
      if (privateKeyPath || r.text(e, 'passphrase')) {
        throw new ConfigError(`${where} (${name}): privateKeyPath and passphrase apply to sftp only; ${proto} logs in with a password`);
      }
      if (password === null) {
        throw new ConfigError(`${where} (${name}): an ${proto} endpoint needs a password ` +
          `(password: in the file, or ${endpointEnvVar(name, 'PASSWORD')} in the environment)`);
      }
      if (e.hostKey !== undefined && e.hostKey !== null) {
        throw new ConfigError(`${where}.hostKey (${name}): hostKey applies to sftp; ${proto} servers are checked by their TLS certificate`);
      }
      if (tlsSection && proto === 'ftp') {
        throw new ConfigError(`${where}.tls (${name}): plain ftp has no TLS; use protocol ftps (explicit) or ftps-implicit`);
      }
    }
    return {
      name,
      protocol: proto,
      host,
      port: r.int(e, 'port', DEFAULT_PORT[proto], 1, 65535),
      user,
      password,
      privateKeyPath,
      passphrase,
      remoteDir: r.text(e, 'remoteDir') ?? '',
      hostKey,
      tls,
      timeoutMs: r.int(e, 'timeoutMs', 30_000, 1000, 600_000),
      origin: source,
    };
  });
}

/** `ediProfiles:` what the config adds to an FTP EDI profile of xTuple's: how to check its server's certificate. */
export interface EdiProfileOptions {
  tls: EndpointTls;
  timeoutMs: number | null;
}

const EDI_PROFILE_KEYS = ['tls', 'timeoutMs'] as const;

/**
 * The config file's `ediProfiles:` section, keyed by profile name (as in xtbatch.ediprofile):
 *
 *   ediProfiles:
 *     ACME:
 *       tls: { caPath: /etc/xtconnect/acme-ca.pem, servername: ftp.acme.example }
 *
 * A profile row has no room for a CA, so this is where an FTPS profile gets one. ConfigError names the key.
 */
export function parseEdiProfileOptions(raw: unknown, source: string): Record<string, EdiProfileOptions> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`${source}: ediProfiles must be a section with one entry per EDI profile name (ACME: { tls: { caPath: ... } })`);
  }
  const out: Record<string, EdiProfileOptions> = {};
  for (const [name, v] of Object.entries(raw as Entry)) {
    const where = `${source}: ediProfiles.${name}`;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${where} must be a section (${EDI_PROFILE_KEYS.join(', ')})`);
    const e = v as Entry;
    for (const k of Object.keys(e)) {
      if (!(EDI_PROFILE_KEYS as readonly string[]).includes(k)) {
        throw new ConfigError(`${where}: unknown key "${k}" (known keys here: ${EDI_PROFILE_KEYS.join(', ')})`);
      }
    }
    const r = new EntryReader(where);
    const t = r.section(e, 'tls', TLS_KEYS);
    out[name] = {
      tls: { caPath: t ? r.absolutePath(t, 'caPath', 'tls.') : null, servername: t ? r.text(t, 'servername') : null },
      timeoutMs: e.timeoutMs === undefined || e.timeoutMs === null ? null : r.int(e, 'timeoutMs', 30_000, 1000, 600_000),
    };
  }
  return out;
}

/** Where the TLS keys of an endpoint live in the config, for messages: "endpoints[acme].tls." or "ediProfiles.ACME.tls.". */
export function tlsConfigPrefix(ep: Pick<Endpoint, 'name' | 'origin'>): string {
  return ep.origin.startsWith('EDI profile') ? `ediProfiles.${ep.name}.tls.` : `endpoints[${ep.name}].tls.`;
}

interface EdiProfileRow {
  ediprofile_name: string;
  ediprofile_type: string | null;
  server: string | null;
  login: string | null;
  password: string | null;
  directory: string | null;
}

/**
 * Splits an EDI profile's server field. xTuple's screen takes free text, so "ftp.example.com",
 * "ftp.example.com:2121" and "ftp://ftp.example.com/outbound" all occur. A scheme picks the protocol the way
 * FileZilla reads it: ftp:// plain, ftpes:// explicit TLS, ftps:// implicit TLS.
 */
function parseServer(server: string): { protocol: TransferProtocol; host: string; port: number | null; dir: string } | string {
  let rest = server.trim();
  let protocol: TransferProtocol = 'ftp';
  const scheme = /^([a-z]+):\/\//i.exec(rest);
  if (scheme) {
    const s = scheme[1]!.toLowerCase();
    const map: Record<string, TransferProtocol> = { ftp: 'ftp', ftpes: 'ftps', ftps: 'ftps-implicit' };
    if (s === 'sftp') {
      return 'sftp is not taken from EDI profiles, because a profile has nowhere to pin the server\'s host key: ' +
        'define an endpoint of the same name in the config file (it wins over the profile)';
    }
    if (!map[s]) return `its scheme "${s}://" is not one of ftp://, ftpes:// (explicit TLS), ftps:// (implicit TLS)`;
    protocol = map[s]!;
    rest = rest.slice(scheme[0].length);
  }
  const slash = rest.indexOf('/');
  const dir = slash >= 0 ? rest.slice(slash) : '';
  const hostPort = slash >= 0 ? rest.slice(0, slash) : rest;
  const m = /^([^:@\s]+)(?::(\d{1,5}))?$/.exec(hostPort);
  if (!m) return 'it is not a host name with an optional :port';
  const port = m[2] ? Number(m[2]) : null;
  if (port !== null && (port < 1 || port > 65535)) return `its port ${port} is not from 1 to 65535`;
  return { protocol, host: m[1]!, port, dir };
}

/**
 * An endpoint from xTuple's FTP EDI profile of that name (`xtbatch.ediprofile`, type 'ftp'; xTuple's client
 * stores server, login, password and directory in ediprofile_option1..4). Null when the table does not exist (no
 * commercial xtbatch package) or holds no profile of that name. XTCONNECT_ENDPOINT_<NAME>_PASSWORD overrides the
 * stored password, so an administrator can keep it out of the database.
 */
export async function endpointFromEdiProfile(pool: Pick<Pool, 'query'>, name: string, env: NodeJS.ProcessEnv = process.env,
  options: Record<string, EdiProfileOptions> = {}): Promise<Endpoint | null> {
  const { rows: reg } = await pool.query<{ present: boolean }>(`SELECT to_regclass('xtbatch.ediprofile') IS NOT NULL AS present`);
  if (!reg[0]?.present) return null;
  let rows: EdiProfileRow[];
  try {
    ({ rows } = await pool.query<EdiProfileRow>(
      `SELECT ediprofile_name, ediprofile_type,
              ediprofile_option1 AS server, ediprofile_option2 AS login,
              ediprofile_option3 AS password, ediprofile_option4 AS directory
         FROM xtbatch.ediprofile
        WHERE ediprofile_name = $1`,
      [name],
    ));
  } catch (err) {
    if ((err as { code?: string }).code === '42501') {
      throw new PermanentError(`cannot read EDI profile "${name}": ${(err as Error).message} ` +
        '(grant the daemon\'s role SELECT on xtbatch.ediprofile)');
    }
    throw err;
  }
  const row = rows[0];
  if (!row) return null;
  const where = `EDI profile "${name}" (xtbatch.ediprofile)`;
  if ((row.ediprofile_type ?? '').trim().toLowerCase() !== 'ftp') {
    throw new PermanentError(`${where} is of type "${row.ediprofile_type ?? ''}", not "ftp": it cannot move files`);
  }
  const server = parseServer(row.server ?? '');
  if (!row.server?.trim()) throw new PermanentError(`${where} has no server (ediprofile_option1 is empty)`);
  if (typeof server === 'string') throw new PermanentError(`${where}: server "${row.server}": ${server}`);
  const login = row.login?.trim();
  const extra = options[row.ediprofile_name] ??
    Object.entries(options).find(([k]) => k.toLowerCase() === row.ediprofile_name.toLowerCase())?.[1];
  return {
    name: row.ediprofile_name,
    protocol: server.protocol,
    host: server.host,
    port: server.port ?? DEFAULT_PORT[server.protocol],
    // xTuple's screen allowed an empty login, which FTP servers take as anonymous.
    user: login || 'anonymous',
    password: env[endpointEnvVar(row.ediprofile_name, 'PASSWORD')] ?? row.password ?? '',
    privateKeyPath: null,
    passphrase: null,
    remoteDir: row.directory?.trim() || server.dir,
    hostKey: { fingerprints: [], knownHostsPath: null },
    tls: extra?.tls ?? { caPath: null, servername: null },
    timeoutMs: extra?.timeoutMs ?? 30_000,
    origin: where,
  };
}

/** "ftp://host:21/dir" for messages; never the password. */
export function describeEndpoint(ep: Pick<Endpoint, 'name' | 'protocol' | 'host' | 'port' | 'remoteDir'>, dir: string = ep.remoteDir): string {
  const scheme = ep.protocol === 'ftps-implicit' ? 'ftps' : ep.protocol === 'ftps' ? 'ftpes' : ep.protocol;
  const host = ep.host.includes(':') ? `[${ep.host}]` : ep.host;
  return `endpoint "${ep.name}" (${scheme}://${host}:${ep.port}${dir ? `, folder "${dir}"` : ''})`;
}
