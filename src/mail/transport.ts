import { registerSecret } from '../secrets';
import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import nodemailer from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import type Mail from 'nodemailer/lib/mailer';
import type { Config } from '../config';
import { errorMessage } from '../errors';
import type { SentMail } from '../db/queries/sentMail';
import type { Logger } from '../log';
import { buildMessage } from './buildMessage';
import { classifySmtpError } from './smtpErrors';
import { writeOutboxFile } from './outbox';
import { smtpTlsOptions } from './tlsConfig';

/** What nodemailer's pool reports of a message the server took, for some recipients at least. */
interface PoolInfo {
  accepted?: unknown;
  rejected?: unknown;
  rejectedErrors?: { recipient?: string; response?: string; message: string }[];
}

export interface SentInfo {
  messageId: string;
  accepted: string[];
  rejected: string[];
  /** The server's reply for each refused recipient ("gone@example.com: 550 5.1.1 no such user"), when it gave one. */
  refusals?: string[];
  /** Where it went: "smtp://host:port" or the .eml file written to the outbox. */
  deliveredTo: string;
}

/** The job a message is sent for, as the mailer sees it (a part of the job's lease, src/handlers/types.ts). */
export interface SendingJob {
  /**
   * Called the moment the message is out of our hands (SMTP accepted it, or its outbox file is written), before
   * it is recorded: from then on sending it again would duplicate it (docs/reliability.md).
   */
  handedOver(): void;
  /** Takes the message's record, to write it in the same statement as the job's outcome (src/sync/recordSent.ts). */
  recordWithOutcome(mail: SentMail): void;
}

export interface Mailer {
  /** "smtp host:port" or "outbox /path", for logs and messages. */
  readonly description: string;
  /** `job`: the job it is sent for, when there is one (a done-notice has none). */
  send(message: Mail.Options, fileHint: string, job?: SendingJob): Promise<SentInfo>;
  close(): void;
}

/** The SMTP envelope a message went out with: Bcc recipients are here, not in the headers. */
export interface SentEnvelope {
  from: string | false;
  to: string[];
}

/** What a message was composed from: its record can be read from these instead of parsing the bytes again. */
export interface ComposedFrom {
  /** The options given to send() (without the abort signal). */
  options: Mail.Options;
  /** The Date header it carries (whole seconds, as the header writes it). */
  date: Date;
  /** Bcc recipients are in the headers (the outbox keeps them; SMTP does not). */
  keepBcc: boolean;
}

/**
 * Called once a message has been handed over (SMTP accepted it, or its outbox file is written), with the exact
 * bytes that were sent and what they were composed from. Its failure is logged and never fails the send: the mail
 * is out, and sending it again would duplicate it.
 */
export type OnSent = (raw: Buffer, envelope: SentEnvelope, info: SentInfo, composed: ComposedFrom, job?: SendingJob) => Promise<void>;

export interface MailerOptions {
  onSent?: OnSent;
  /** Where a failing onSent is reported. */
  log?: Logger;
}

interface Composed {
  raw: Buffer;
  envelope: SentEnvelope;
  messageId: string;
  from: ComposedFrom;
}

/**
 * The domain of the sender's address, for the Message-ID nodemailer would write (<id@domain>); undefined when it
 * is not plain ASCII or cannot be read without parsing, and nodemailer then makes the Message-ID itself.
 */
function senderDomain(from: Mail.Options['from'] | Mail.Envelope['from']): string | undefined {
  const address = typeof from === 'string' ? /<([^<>]*)>\s*$/.exec(from)?.[1] ?? from
    : from && typeof from === 'object' && !Array.isArray(from) ? from.address : undefined;
  const domain = address?.trim().split('@');
  if (!domain || domain.length !== 2 || !domain[0]) return undefined;
  return /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(domain[1]!) ? domain[1]!.toLowerCase() : undefined;
}

/** Builds the message once: the bytes sent are the bytes recorded. */
async function compose(message: Mail.Options, keepBcc: boolean): Promise<Composed> {
  const { signal: _signal, ...data } = message as Mail.Options & { signal?: AbortSignal };
  void _signal;
  // The Date header is set here (to the second it writes) rather than by the composer, so that the record has it
  // without reading the header back.
  const date = data.date instanceof Date ? data.date : new Date(Math.floor(Date.now() / 1000) * 1000);
  // The boundary's random part and the Message-ID from randomUUID(), which draws on a cached pool of random bytes:
  // nodemailer draws each with its own crypto.randomBytes() call (six per message), which took more CPU than
  // anything else in composing a plain message (issue 17). The same forms: 16 hex digits, <uuid@sender's domain>.
  const domain = senderDomain(data.envelope?.from ?? data.from);
  const options = {
    ...data,
    date: data.date ?? date,
    baseBoundary: data.baseBoundary ?? randomUUID().replace(/-/g, '').slice(0, 16),
    messageId: data.messageId ?? (domain ? `<${randomUUID()}@${domain}>` : undefined),
  };
  const node = new MailComposer(options as ConstructorParameters<typeof MailComposer>[0]).compile();
  node.keepBcc = keepBcc;
  const raw = await buildMessage(node);
  const env = node.getEnvelope();
  return { raw, envelope: { from: env.from, to: env.to }, messageId: node.messageId(), from: { options, date, keepBcc } };
}

/**
 * The composed bytes as nodemailer's transports take a message (`transport.send(mail, callback)`, the interface of
 * its transport plugins): the pool streams these bytes as they are, so the message is not composed a second time.
 * Each createReadStream() is a fresh stream: the pool sends a message again over another connection when a reused
 * one turns out closed before a byte was read.
 */
function rawMail(c: Composed, signal: AbortSignal | undefined): unknown {
  const id = `<${c.messageId}>`;
  return {
    data: { signal },
    message: {
      getEnvelope: () => ({ from: c.envelope.from, to: [...c.envelope.to] }),
      messageId: () => id,
      getHeader: (key: string) => (key.toLowerCase() === 'message-id' ? id : undefined),
      createReadStream: () => new PassThrough().end(c.raw),
    },
  };
}

async function notifySent(opts: MailerOptions, c: Composed, info: SentInfo, job: SendingJob | undefined): Promise<void> {
  if (!opts.onSent) return;
  try {
    await opts.onSent(c.raw, c.envelope, info, c.from, job);
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
  // A server may quote the login it refused in its reply, which becomes the job's exit status.
  registerSecret(smtp.password, { user: smtp.user });
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
  const pool = transport.transporter as unknown as { send(mail: unknown, callback: (err: Error | null, info: PoolInfo) => void): void };
  return {
    description: `smtp ${server}`,
    async send(message, _fileHint, job) {
      let composed: Composed;
      let sent: SentInfo;
      try {
        if (tlsProblem) throw tlsProblem;
        composed = await compose(message, false);
        const signal = (message as { signal?: AbortSignal }).signal;
        // The pool watches the signal (an aborted one fails the message, queued or being sent, and frees its connection).
        const info = await new Promise<PoolInfo>((resolve, reject) => {
          pool.send(rawMail(composed, signal), (err: Error | null, result: PoolInfo) => (err ? reject(err) : resolve(result)));
        });
        sent = { messageId: composed.messageId, accepted: addresses(info.accepted), rejected: addresses(info.rejected), deliveredTo: `smtp://${server}` };
        const refusals = (info.rejectedErrors ?? []).map((e) => `${e.recipient ?? '?'}: ${(e.response ?? e.message).trim()}`);
        if (refusals.length) sent.refusals = refusals;
      } catch (err) {
        throw classifySmtpError(err, server);
      }
      job?.handedOver();
      await notifySent(opts, composed, sent, job);
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
    async send(message, fileHint, job) {
      const composed = await compose(message, true);
      const info = (await transport.sendMail({ envelope: composed.envelope, raw: composed.raw } as Mail.Options)) as unknown as { message: Buffer };
      // Never over an existing file, under a temporary name of this writer's own (src/mail/outbox.ts).
      const file = await writeOutboxFile(dir, fileHint, info.message);
      const sent: SentInfo = { messageId: composed.messageId, accepted: composed.envelope.to, rejected: [], deliveredTo: file };
      job?.handedOver();
      await notifySent(opts, composed, sent, job);
      return sent;
    },
    close: () => undefined,
  };
}

/** SMTP when the config has a server, else the outbox folder. `opts.onSent` records each message sent. */
export function createMailer(cfg: Pick<Config, 'smtp' | 'outboxDir'>, opts: MailerOptions = {}): Mailer {
  return cfg.smtp ? smtpMailer(cfg.smtp, opts) : outboxMailer(cfg.outboxDir, opts);
}
