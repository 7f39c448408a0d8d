/**
 * Hides secrets in text that leaves the process: log lines, the messages written to job rows (and so the console,
 * `xtconnect list` and the notices mailed from them), and the CLI's error messages. Two nets:
 *
 * - patterns, for secrets nobody told us of: the user information of any URL (`postgresql://user:secret@host`,
 *   an FTP address typed into an EDI profile's server field) and `password=secret` forms;
 * - the secrets themselves, for text no pattern recognises: a password a server echoes in its reply, a database
 *   URL whose password holds a space. Every password, passphrase and token the config carries, and an EDI
 *   profile's password when it is read, is registered here, with the base64 forms SMTP and IMAP logins send.
 */

const MIN_LITERAL = 6;
const literals = new Set<string>();
let literalPattern: RegExp | null = null;

/**
 * Registers a secret to hide wherever it appears. Values under six characters are hidden only by the patterns:
 * hiding every "1234" would garble job numbers in every line.
 */
export function registerSecret(value: string | null | undefined, opts: { user?: string | null } = {}): void {
  if (!value) return;
  const forms = [value, Buffer.from(value).toString('base64')];
  // What AUTH PLAIN (SMTP, IMAP) and AUTH LOGIN send: a server that echoes them would otherwise show the password.
  if (opts.user) forms.push(Buffer.from(`\u0000${opts.user}\u0000${value}`).toString('base64'));
  let added = false;
  for (const f of forms) {
    if (f.length >= MIN_LITERAL && !literals.has(f)) {
      literals.add(f);
      added = true;
    }
  }
  if (added) {
    // Longest first, so that a secret containing another is hidden whole.
    const sorted = [...literals].sort((a, b) => b.length - a.length);
    literalPattern = new RegExp(sorted.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  }
}

/** The password of a connection URL, as written and decoded, for registerSecret; none when it has none. */
export function urlPasswords(url: string | null | undefined): string[] {
  if (!url) return [];
  // As written, up to the last "@": a password with a raw "@" or space is still all of it.
  const raw = /^[a-z][a-z0-9+.-]*:\/\/[^:/@]*:(.*)@[^@]*$/is.exec(url)?.[1];
  if (!raw) return [];
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // Not percent-encoded as a URL should be: the raw form is the one people see.
  }
  return decoded === raw ? [raw] : [raw, decoded];
}

export function redactSecrets(text: string): string {
  let out = text
    // The scheme is bounded and starts at a word boundary, so a long run of letters cannot make this quadratic.
    // The user may be empty (the user then comes from PGUSER); the password runs to the token's last "@", so a
    // raw "@" in it is hidden too.
    .replace(/\b([a-z][a-z0-9+.-]{0,30}:\/\/[^:/@\s]*:)\S*@/gi, '$1***@')
    .replace(/\b(password|passwd|pwd|passphrase)=("[^"]*"|'[^']*'|\S+)/gi, '$1=***');
  if (literalPattern) out = out.replace(literalPattern, '***');
  return out;
}

/** Config keys whose values are secrets (the schema marks them `secret`; also any such key in an unknown place). */
export const SECRET_KEY = /^(password|passphrase|accessToken|token|secret)$/i;

/** JSON of a value from a config file with every secret key's value and URL password hidden, for messages. */
export function jsonWithoutSecrets(v: unknown): string | undefined {
  const s = JSON.stringify(v, (k, x: unknown) => (SECRET_KEY.test(k) && x !== null && x !== undefined && x !== '' ? '***' : x));
  return s === undefined ? undefined : redactSecrets(s);
}
