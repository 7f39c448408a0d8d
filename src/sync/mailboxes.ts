
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

/**
 * The environment variable holding one secret of a mailbox: XTCONNECT_MAILBOX_<NAME>_PASSWORD or _ACCESSTOKEN,
 * NAME upper-cased with every character other than A-Z and 0-9 turned into "_" ("sales-in" → SALES_IN).
 */
export function mailboxEnvVar(name: string, secret: 'PASSWORD' | 'ACCESSTOKEN'): string {
  return `XTCONNECT_MAILBOX_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_${secret}`;
}

/** "imap user@host:port" for messages; never the secret. */
export function describeMailbox(mb: Pick<Mailbox, 'name' | 'host' | 'port' | 'user' | 'security'>): string {
  const scheme = mb.security === 'tls' ? 'imaps' : 'imap';
  return `mailbox "${mb.name}" (${scheme}://${mb.user}@${mb.host.includes(':') ? `[${mb.host}]` : mb.host}:${mb.port})`;
}
