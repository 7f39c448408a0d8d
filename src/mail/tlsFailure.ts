/**
 * Certificate failures, told apart from network faults. An untrusted, mismatched or expired certificate will be the
 * same on the next attempt, so every protocol (SMTP, IMAP, FTPS) fails the job at once with the reason in words and
 * the config key that fixes it.
 */

/** Node's (OpenSSL's) verification codes, in words. */
const REASONS: Record<string, { reason: string; fix: 'ca' | 'servername' | 'renew' | 'clock' }> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: { reason: 'certificate not trusted (self-signed certificate)', fix: 'ca' },
  SELF_SIGNED_CERT_IN_CHAIN: { reason: 'certificate not trusted (self-signed certificate in chain)', fix: 'ca' },
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: { reason: 'certificate not trusted (signed by an unknown CA)', fix: 'ca' },
  UNABLE_TO_GET_ISSUER_CERT: { reason: 'certificate not trusted (signed by an unknown CA)', fix: 'ca' },
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: { reason: 'certificate not trusted (signed by an unknown CA)', fix: 'ca' },
  CERT_SIGNATURE_FAILURE: { reason: 'certificate not trusted (its signature does not verify)', fix: 'ca' },
  CERT_UNTRUSTED: { reason: 'certificate not trusted', fix: 'ca' },
  CERT_REJECTED: { reason: 'certificate not trusted (rejected)', fix: 'ca' },
  INVALID_CA: { reason: 'certificate not trusted (invalid CA certificate)', fix: 'ca' },
  CERT_REVOKED: { reason: 'certificate revoked', fix: 'renew' },
  ERR_TLS_CERT_ALTNAME_INVALID: { reason: 'certificate does not match the host name', fix: 'servername' },
  HOSTNAME_MISMATCH: { reason: 'certificate does not match the host name', fix: 'servername' },
  CERT_HAS_EXPIRED: { reason: 'certificate expired', fix: 'renew' },
  CERT_NOT_YET_VALID: { reason: 'certificate not yet valid', fix: 'clock' },
};

export interface TlsFailure {
  /** "certificate not trusted (self-signed certificate in chain)". */
  reason: string;
  fix: 'ca' | 'servername' | 'renew' | 'clock';
  /** Node's code, when there was one. */
  code: string | null;
}

/** The certificate failure in an error (or its cause, or its message), or null when it is something else. */
export function tlsFailureOf(err: unknown): TlsFailure | null {
  for (let e = err as { code?: unknown; message?: unknown; cause?: unknown } | null | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    const code = typeof e.code === 'string' ? e.code : '';
    const known = REASONS[code];
    if (known) return { ...known, code };
    const msg = typeof e.message === 'string' ? e.message : '';
    // Some libraries replace the code with their own (nodemailer's ESOCKET) and keep Node's words.
    for (const [c, r] of Object.entries(REASONS)) {
      if (msg.includes(c)) return { ...r, code: c };
    }
    if (/self[- ]signed certificate in certificate chain/i.test(msg)) return { ...REASONS.SELF_SIGNED_CERT_IN_CHAIN!, code: 'SELF_SIGNED_CERT_IN_CHAIN' };
    if (/self[- ]signed certificate/i.test(msg)) return { ...REASONS.DEPTH_ZERO_SELF_SIGNED_CERT!, code: 'DEPTH_ZERO_SELF_SIGNED_CERT' };
    if (/unable to (verify the first certificate|get (local )?issuer certificate)/i.test(msg)) {
      return { ...REASONS.UNABLE_TO_VERIFY_LEAF_SIGNATURE!, code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' };
    }
    if (/certificate has expired/i.test(msg)) return { ...REASONS.CERT_HAS_EXPIRED!, code: 'CERT_HAS_EXPIRED' };
    if (/certificate is not yet valid/i.test(msg)) return { ...REASONS.CERT_NOT_YET_VALID!, code: 'CERT_NOT_YET_VALID' };
    if (/Hostname\/IP does not match certificate's altnames/i.test(msg)) return { ...REASONS.ERR_TLS_CERT_ALTNAME_INVALID!, code: 'ERR_TLS_CERT_ALTNAME_INVALID' };
  }
  return null;
}

/**
 * "<what>: certificate not trusted (self-signed certificate in chain); set <prefix>caPath to the CA file". `prefix`
 * is where the TLS keys live in the config ("smtp.tls.", "mailboxes[].tls.", ...).
 */
export function tlsFailureMessage(what: string, f: TlsFailure, prefix: string): string {
  const advice = {
    ca: `set ${prefix}caPath to the CA file (the PEM of the CA that signed the server's certificate, or the certificate itself when it is self-signed)`,
    servername: `set ${prefix}servername to the name the certificate carries, or connect by that name`,
    renew: 'the server\'s administrator must renew its certificate',
    clock: 'check the clocks of this machine and the server',
  }[f.fix];
  return `${what}: ${f.reason}; ${advice}`;
}
