import nodemailer from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import type Mail from 'nodemailer/lib/mailer';
import type { Config } from '../config';
import { errorMessage } from '../errors';
import type { Logger } from '../log';
import { classifySmtpError } from './smtpErrors';
import { writeOutboxFile } from './outbox';
import { smtpTlsOptions } from './tlsConfig';

export interface SentInfo {
  messageId: string;
  accepted: string[];
  rejected: string[];
  /** Where it went: "smtp://host:port" or the .eml file written to the outbox. */
  deliveredTo: string;
}

export interface Mailer {
  /** "smtp host:port" or "outbox /path", for logs and messages. */
  readonly description: string;
  /**
   * `handedOver` is called the moment the message is out of our hands (SMTP accepted it, or its outbox file is
   * written), before it is recorded: from then on sending it again would duplicate it (docs/reliability.md).
   */
  send(message: Mail.Options, fileHint: string, handedOver?: () => void): Promise<SentInfo>;
  close(): void;
}

/** The SMTP envelope a message went out with: Bcc recipients are here, not in the headers. */
export interface SentEnvelope {
  from: string | false;
  to: string[];
}

/**
 * Called once a message has been handed over (SMTP accepted it, or its outbox file is written), with the exact
 * bytes that were sent. Its failure is logged and never fails the send: the mail is out, and sending it again
 * would duplicate it.
 */
export type OnSent = (raw: Buffer, envelope: SentEnvelope, info: SentInfo) => Promise<void>;

export interface MailerOptions {
  onSent?: OnSent;
  /** Where a failing onSent is reported. */
  log?: Logger;
}

interface Composed {
  raw: Buffer;
  envelope: SentEnvelope;
  messageId: string;
}

/** Builds the message once: the bytes sent are the bytes recorded. */
async function compose(message: Mail.Options, keepBcc: boolean): Promise<Composed> {
  const { signal: _signal, ...data } = message as Mail.Options & { signal?: AbortSignal };
  void _signal;
  const node = new MailComposer(data as ConstructorParameters<typeof MailComposer>[0]).compile();
  node.keepBcc = keepBcc;
  const raw = await node.build();
  const env = node.getEnvelope();
  return { raw, envelope: { from: env.from, to: env.to }, messageId: node.messageId() };
}

async function notifySent(opts: MailerOptions, c: Composed, info: SentInfo): Promise<void> {
  if (!opts.onSent) return;
  try {
    await opts.onSent(c.raw, c.envelope, info);
  } catch (err) {
    opts.log?.warn(`mail ${info.messageId} was sent, but recording it failed: ${errorMessage(err)}`, { scope: 'mail' });
  }
}

function addresses(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.map((a) => (typeof a === 'string' ? a : String((a as { address?: string }).address ?? a)));
}

/** Pooled SMTP: connections are reused across jobs, up to smtp.maxConnections. */
function smtpMailer(smtp: NonNullable<Config['smtp']>, opts: MailerOptions): Mailer {
  const server = `${smtp.host}:${smtp.port}`;
  // A CA file that cannot be read fails every send with that reason (not "certificate not trusted" later).
  let tls: ReturnType<typeof smtpTlsOptions> = { rejectUnauthorized: smtp.rejectUnauthorized };
  let tlsProblem: Error | null = null;
  try {
    tls = smtpTlsOptions(smtp.tls, smtp.rejectUnauthorized);
  } catch (err) {
    tlsProblem = err as Error;
  }
  const transport = nodemailer.createTransport({
    pool: true,
    host: smtp.host,
    port: smtp.port,
    secure: smtp.security === 'tls',
    requireTLS: smtp.security === 'starttls',
    ignoreTLS: smtp.security === 'none',
    auth: smtp.user ? { user: smtp.user, pass: smtp.password ?? '' } : undefined,
    tls,
    // nodemailer sends no SNI for an IP address unless told; the certificate is then checked against this name.
    ...(smtp.tls?.servername ? { servername: smtp.tls.servername } : {}),
    maxConnections: smtp.maxConnections,
    connectionTimeout: smtp.connectionTimeoutMs,
    greetingTimeout: smtp.connectionTimeoutMs,
    socketTimeout: Math.max(smtp.connectionTimeoutMs, 60_000),
    logger: false,
  });
  return {
    description: `smtp ${server}`,
    async send(message, _fileHint, handedOver) {
      let composed: Composed;
      let sent: SentInfo;
      try {
        if (tlsProblem) throw tlsProblem;
        composed = await compose(message, false);
        const info = await transport.sendMail({ envelope: composed.envelope, raw: composed.raw, signal: (message as { signal?: AbortSignal }).signal } as Mail.Options);
        sent = { messageId: composed.messageId, accepted: addresses(info.accepted), rejected: addresses(info.rejected), deliveredTo: `smtp://${server}` };
      } catch (err) {
        throw classifySmtpError(err, server);
      }
      handedOver?.();
      await notifySent(opts, composed, sent);
      return sent;
    },
    close: () => transport.close(),
  };
}

/**
 * With no SMTP server configured, each message becomes an .eml file that any mail program opens: complete or
 * not at all, and never over an existing file (writeOutboxFile).
 */
function outboxMailer(dir: string, opts: MailerOptions): Mailer {
  // keepBcc: the file is the record of what was sent; whoever sends it on must see every recipient.
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows', keepBcc: true } as Parameters<typeof nodemailer.createTransport>[0]);
  return {
    description: `outbox ${dir}`,
    async send(message, fileHint, handedOver) {
      const composed = await compose(message, true);
      const info = (await transport.sendMail({ envelope: composed.envelope, raw: composed.raw } as Mail.Options)) as unknown as { message: Buffer };
      // Never over an existing file, under a temporary name of this writer's own (src/mail/outbox.ts).
      const file = await writeOutboxFile(dir, fileHint, info.message);
      const sent: SentInfo = { messageId: composed.messageId, accepted: composed.envelope.to, rejected: [], deliveredTo: file };
      handedOver?.();
      await notifySent(opts, composed, sent);
      return sent;
    },
    close: () => undefined,
  };
}

/** SMTP when the config has a server, else the outbox folder. `opts.onSent` records each message sent. */
export function createMailer(cfg: Pick<Config, 'smtp' | 'outboxDir'>, opts: MailerOptions = {}): Mailer {
  return cfg.smtp ? smtpMailer(cfg.smtp, opts) : outboxMailer(cfg.outboxDir, opts);
}
