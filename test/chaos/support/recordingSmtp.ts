import { SMTPServer } from 'smtp-server';
import { freePort } from '../../support/smtp';
import type { Interval } from './intervals';

/**
 * One SMTP mail transaction as the server saw it: from MAIL FROM to the server's answer to the message (delivered)
 * or to the end of the transaction without one (the client reset it, or its connection closed first).
 */
export interface SmtpTransaction {
  /** The connection (smtp-server's session id). */
  conn: string;
  /** The job token taken from the recipient (see tokenAddress), or null before RCPT TO. */
  token: string | null;
  start: number;
  /** When RCPT TO arrived (the transaction is then known to be for `token`). */
  rcptAt: number | null;
  /** When the whole message had arrived (the final dot), if it did. */
  dataEndAt: number | null;
  end: number | null;
  delivered: boolean;
  /** Why it ended without delivery. */
  endReason: 'accepted' | 'reset' | 'closed' | 'tempfail' | null;
}

export interface RecordingSmtp {
  readonly port: number;
  readonly transactions: readonly SmtpTransaction[];
  /** The server holds its answer to RCPT TO this long: a slow recipient check, the "slow job" of these tests. */
  rcptDelayMs: number;
  /**
   * The server holds its answer to the message this long before accepting it; a client that closes the
   * connection meanwhile has not handed it over (it is not delivered).
   */
  dataHoldMs: number;
  /** Delivered transactions as execution intervals per job token. */
  deliveries(): Map<string, Interval[]>;
  /** Transactions still open (no answer to the message and no end yet). */
  open(): SmtpTransaction[];
  /** Stops listening and drops every connection (the relay is down: connections are refused). */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

/** The recipient that identifies a job's mail at RCPT TO, before the message (and its batch-id header) arrives. */
export function tokenAddress(token: string): string {
  return `chaos-${token}@example.test`;
}

function tokenOf(address: string): string | null {
  return /^chaos-([^@]+)@example\.test$/i.exec(address)?.[1] ?? null;
}

/**
 * A real SMTP server (smtp-server) on loopback that records every mail transaction with its start and end, so
 * a test can tell whether two deliveries of one job ran at the same time, not only whether a job was delivered
 * twice. Delays are read when each command arrives, so a test may change them at any time.
 */
export async function startRecordingSmtp(opts: { rcptDelayMs?: number; dataHoldMs?: number } = {}): Promise<RecordingSmtp> {
  const port = await freePort();
  const transactions: SmtpTransaction[] = [];
  const current = new Map<string, SmtpTransaction>();
  const closedConns = new Set<string>();
  let server: SMTPServer | null = null;

  const endTx = (tx: SmtpTransaction | undefined, reason: NonNullable<SmtpTransaction['endReason']>): void => {
    if (!tx || tx.end !== null) return;
    tx.end = Date.now();
    tx.endReason = reason;
    tx.delivered = reason === 'accepted';
    if (current.get(tx.conn) === tx) current.delete(tx.conn);
  };

  const rec: RecordingSmtp = {
    port,
    transactions,
    rcptDelayMs: opts.rcptDelayMs ?? 0,
    dataHoldMs: opts.dataHoldMs ?? 0,
    deliveries() {
      const out = new Map<string, Interval[]>();
      for (const t of transactions) {
        if (!t.delivered || t.token === null) continue;
        const list = out.get(t.token) ?? [];
        list.push({ start: t.start, end: t.end!, by: t.conn });
        out.set(t.token, list);
      }
      return out;
    },
    open: () => transactions.filter((t) => t.end === null),
    async down() {
      const s = server;
      server = null;
      if (!s) return;
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    async up() {
      if (!server) await listen();
    },
    async close() {
      await rec.down();
      for (const tx of [...current.values()]) endTx(tx, 'closed');
    },
  };

  const newServer = (): SMTPServer => new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    logger: false,
    // Connections still open at down() are dropped after this long (the daemons' pooled ones).
    closeTimeout: 100,
    onMailFrom(_address, session, cb) {
      endTx(current.get(session.id), 'reset');
      const tx: SmtpTransaction = { conn: session.id, token: null, start: Date.now(), rcptAt: null, dataEndAt: null, end: null, delivered: false, endReason: null };
      transactions.push(tx);
      current.set(session.id, tx);
      cb();
    },
    onRcptTo(address, session, cb) {
      const tx = current.get(session.id);
      if (tx) {
        tx.rcptAt = Date.now();
        tx.token ??= tokenOf(address.address);
      }
      if (rec.rcptDelayMs > 0) setTimeout(() => cb(), rec.rcptDelayMs);
      else cb();
    },
    onData(stream, session, cb) {
      const tx = current.get(session.id);
      stream.on('error', () => undefined);
      stream.on('data', () => undefined);
      stream.on('end', () => {
        if (tx) tx.dataEndAt = Date.now();
        const answer = (): void => {
          // The client went away before the answer: it has not handed the message over, and nothing is delivered.
          if (closedConns.has(session.id)) return endTx(tx, 'closed');
          endTx(tx, 'accepted');
          cb();
        };
        if (rec.dataHoldMs > 0) setTimeout(answer, rec.dataHoldMs);
        else answer();
      });
    },
    onClose(session) {
      closedConns.add(session.id);
      endTx(current.get(session.id), 'closed');
    },
  });

  async function listen(): Promise<void> {
    const s = newServer();
    s.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    server = s;
  }
  await listen();
  return rec;
}
