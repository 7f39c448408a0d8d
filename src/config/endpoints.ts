import { redactSecrets } from '../secrets';
import { isHostName } from './fields';
import { endpointEnvVar, type Endpoint, type TransferProtocol } from '../transfer/endpoints';
import type { Problems } from './collect';
import type { EndpointEntry } from './schema';

const DEFAULT_PORT: Record<TransferProtocol, number> = { ftp: 21, ftps: 21, 'ftps-implicit': 990, sftp: 22 };

/** What `ssh-keygen -lf` prints: 32 bytes of SHA-256 as base64 without the trailing "=". */
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

/** `hostKey.fingerprint`: one fingerprint or a list; each mistake named by its place in the list. */
function readFingerprints(v: unknown, key: string, problems: Problems): string[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  const out: string[] = [];
  list.forEach((f, i) => {
    if (typeof f !== 'string' || !FINGERPRINT.test(f.trim())) {
      problems.add(`${Array.isArray(v) ? `${key}[${i}]` : key} must be a SHA-256 fingerprint as "ssh-keygen -lf" prints it, ` +
        `"SHA256:" followed by 43 base64 characters (got ${JSON.stringify(f)})`);
    } else out.push(f.trim());
  });
  return out;
}

/**
 * The `endpoints:` entries as transfers use them, with the rules that join keys: an sftp endpoint must pin the
 * server's host key (there is no "accept any key"), FTP ones log in with a password, TLS settings only where
 * there is TLS. XTCONNECT_ENDPOINT_<NAME>_PASSWORD / _PASSPHRASE win over the file.
 */
export function buildEndpoints(entries: EndpointEntry[], source: string, env: NodeJS.ProcessEnv, problems: Problems): Endpoint[] {
  const seen = new Map<string, number>();
  const out: Endpoint[] = [];
  entries.forEach((e, i) => {
    const where = `endpoints[${i}]`;
    const before = problems.list.length;
    const first = seen.get(e.name.toLowerCase());
    if (first !== undefined) problems.add(`${where}.name "${e.name}" is used twice (also endpoints[${first}])`);
    seen.set(e.name.toLowerCase(), i);
    if (!e.host || !isHostName(e.host)) {
      problems.add(`${where}.host must be a host name or IP address (no scheme, user or path) (got ${JSON.stringify(e.host === undefined || e.host === null ? null : redactSecrets(e.host))})`);
    }
    if (!e.user) problems.add(`${where}.user must be the login name (got ${JSON.stringify(e.user ?? '')})`);
    const password = env[endpointEnvVar(e.name, 'PASSWORD')] ?? e.password ?? null;
    const passphrase = env[endpointEnvVar(e.name, 'PASSPHRASE')] ?? e.passphrase ?? null;
    const fingerprints = readFingerprints(e.hostKey?.fingerprint, `${where}.hostKey.fingerprint`, problems);
    const knownHostsPath = e.hostKey?.knownHostsPath ?? null;
    if (e.protocol === 'sftp') {
      if (!password && !e.privateKeyPath) {
        problems.add(`${where} (${e.name}): an sftp endpoint needs privateKeyPath or a password ` +
          `(password: in the file, or ${endpointEnvVar(e.name, 'PASSWORD')} in the environment)`);
      }
      if (fingerprints.length === 0 && !knownHostsPath) {
        problems.add(`${where}.hostKey (${e.name}): an sftp endpoint needs hostKey.fingerprint ` +
          '(SHA256:..., from "ssh-keyscan -p PORT HOST | ssh-keygen -lf -", checked with the server\'s administrator) ' +
          'or hostKey.knownHostsPath; xtconnect never accepts an unknown host key');
      }
      if (e.tls) problems.add(`${where}.tls (${e.name}): tls applies to ftps and ftps-implicit, not sftp`);
    } else {
      if (e.privateKeyPath || e.passphrase) {
        problems.add(`${where} (${e.name}): privateKeyPath and passphrase apply to sftp only; ${e.protocol} logs in with a password`);
      }
      if (password === null) {
        problems.add(`${where} (${e.name}): an ${e.protocol} endpoint needs a password ` +
          `(password: in the file, or ${endpointEnvVar(e.name, 'PASSWORD')} in the environment)`);
      }
      if (e.hostKey) problems.add(`${where}.hostKey (${e.name}): hostKey applies to sftp; ${e.protocol} servers are checked by their TLS certificate`);
      if (e.tls && e.protocol === 'ftp') problems.add(`${where}.tls (${e.name}): plain ftp has no TLS; use protocol ftps (explicit) or ftps-implicit`);
    }
    if (problems.list.length > before) return;
    out.push({
      name: e.name,
      protocol: e.protocol,
      host: e.host!,
      port: e.port ?? DEFAULT_PORT[e.protocol],
      user: e.user!,
      password,
      privateKeyPath: e.privateKeyPath ?? null,
      passphrase,
      remoteDir: e.remoteDir ?? '',
      hostKey: { fingerprints, knownHostsPath },
      tls: { caPath: e.tls?.caPath ?? null, servername: e.tls?.servername ?? null },
      timeoutMs: e.timeoutMs,
      origin: source,
    });
  });
  return out;
}
