import fs from 'node:fs';
import path from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { ConfigError, errorMessage, PermanentError } from '../errors';

/** `smtp.tls`: how the SMTP server's certificate is checked. */
export interface SmtpTls {
  /** PEM file of the CA (or the server's own self-signed certificate) to trust instead of the system's CAs. */
  caPath: string | null;
  /** Name the certificate must carry when it differs from smtp.host (a relay reached by IP address, say). */
  servername: string | null;
  /** Oldest TLS version accepted; null keeps Node's default (TLSv1.2). */
  minVersion: 'TLSv1.2' | 'TLSv1.3' | null;
}

export const SMTP_TLS_KEYS = ['caPath', 'servername', 'minVersion', 'rejectUnauthorized'] as const;
const MIN_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;

/**
 * Reads the `smtp.tls` section. `rejectUnauthorized` may be written there or, as before, directly under smtp; the
 * two must agree. Returns the section and the resolved rejectUnauthorized.
 */
export function readSmtpTls(source: string, raw: unknown, outerReject: unknown): { tls: SmtpTls; rejectUnauthorized: boolean } {
  const tls: SmtpTls = { caPath: null, servername: null, minVersion: null };
  const fail = (key: string, want: string, got: unknown): never => {
    throw new ConfigError(`${source}: smtp.${key} must be ${want} (got ${JSON.stringify(got)})`);
  };
  if (outerReject !== undefined && outerReject !== null && typeof outerReject !== 'boolean') fail('rejectUnauthorized', 'true or false', outerReject);
  let reject = typeof outerReject === 'boolean' ? outerReject : null;
  if (raw !== undefined && raw !== null) {
    if (typeof raw !== 'object' || Array.isArray(raw)) fail('tls', `a section (${SMTP_TLS_KEYS.join(', ')})`, raw);
    const t = raw as Record<string, unknown>;
    for (const k of Object.keys(t)) {
      if (!(SMTP_TLS_KEYS as readonly string[]).includes(k)) {
        throw new ConfigError(`${source}: unknown key "smtp.tls.${k}" (known keys here: ${SMTP_TLS_KEYS.join(', ')})`);
      }
    }
    const text = (k: string): string | null => {
      const v = t[k];
      if (v === undefined || v === null || v === '') return null;
      if (typeof v !== 'string') fail(`tls.${k}`, 'text', v);
      return v as string;
    };
    tls.caPath = text('caPath');
    if (tls.caPath !== null && !path.isAbsolute(tls.caPath)) fail('tls.caPath', 'an absolute path', tls.caPath);
    tls.servername = text('servername');
    const min = text('minVersion');
    if (min !== null && !(MIN_VERSIONS as readonly string[]).includes(min)) fail('tls.minVersion', `one of ${MIN_VERSIONS.join(', ')}`, min);
    tls.minVersion = min as SmtpTls['minVersion'];
    const inner = t.rejectUnauthorized;
    if (inner !== undefined && inner !== null) {
      if (typeof inner !== 'boolean') fail('tls.rejectUnauthorized', 'true or false', inner);
      if (reject !== null && reject !== inner) {
        throw new ConfigError(`${source}: smtp.rejectUnauthorized and smtp.tls.rejectUnauthorized disagree; keep one of them`);
      }
      reject = inner as boolean;
    }
  }
  return { tls, rejectUnauthorized: reject ?? true };
}

/**
 * Node TLS options for the SMTP connection. The CA file is read here, each time a mailer is made, so a missing
 * or unreadable file is reported as such (a permanent failure naming smtp.tls.caPath), not as an untrusted server.
 */
export function smtpTlsOptions(tls: SmtpTls | undefined, rejectUnauthorized: boolean): ConnectionOptions {
  const o: ConnectionOptions = { rejectUnauthorized };
  if (!tls) return o;
  if (tls.caPath) {
    try {
      o.ca = fs.readFileSync(tls.caPath);
    } catch (err) {
      throw new PermanentError(`cannot read smtp.tls.caPath ${tls.caPath}: ${errorMessage(err)}`);
    }
  }
  if (tls.servername) o.servername = tls.servername;
  if (tls.minVersion) o.minVersion = tls.minVersion;
  return o;
}
