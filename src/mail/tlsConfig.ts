import fs from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { errorMessage, PermanentError } from '../errors';

/** `smtp.tls`: how the SMTP server's certificate is checked. */
export interface SmtpTls {
  /** PEM file of the CA (or the server's own self-signed certificate) to trust instead of the system's CAs. */
  caPath: string | null;
  /** Name the certificate must carry when it differs from smtp.host (a relay reached by IP address, say). */
  servername: string | null;
  /** Oldest TLS version accepted; null keeps Node's default (TLSv1.2). */
  minVersion: 'TLSv1.2' | 'TLSv1.3' | null;
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
