import { redactSecrets, registerSecret } from '../secrets';
import type { Pool } from '../db/pool';
import { PermanentError } from '../errors';

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

/**
 * The environment variable holding one secret of an endpoint: XTCONNECT_ENDPOINT_<NAME>_PASSWORD or _PASSPHRASE,
 * NAME upper-cased with every character other than A-Z and 0-9 turned into "_" ("acme-edi" → ACME_EDI).
 */
export function endpointEnvVar(name: string, secret: 'PASSWORD' | 'PASSPHRASE'): string {
  return `XTCONNECT_ENDPOINT_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_${secret}`;
}

/** `ediProfiles:` what the config adds to an FTP EDI profile of xTuple's: how to check its server's certificate. */
export interface EdiProfileOptions {
  tls: EndpointTls;
  timeoutMs: number | null;
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
  if (hostPort.includes('@')) return 'it holds a login (user@host): put the login and password in the profile\'s own fields, and only the host in the server field';
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
  // Hidden from here on wherever it appears (a server's reply, a log line).
  registerSecret(row.password, { user: row.login });
  const where = `EDI profile "${name}" (xtbatch.ediprofile)`;
  if ((row.ediprofile_type ?? '').trim().toLowerCase() !== 'ftp') {
    throw new PermanentError(`${where} is of type "${row.ediprofile_type ?? ''}", not "ftp": it cannot move files`);
  }
  const server = parseServer(row.server ?? '');
  if (!row.server?.trim()) throw new PermanentError(`${where} has no server (ediprofile_option1 is empty)`);
  // The server field is free text on xTuple's screen: it may hold "ftp://user:password@host".
  if (typeof server === 'string') throw new PermanentError(`${where}: server "${redactSecrets(row.server)}": ${server}`);
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
