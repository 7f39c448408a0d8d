import fs from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer';
import type { Config } from '../config';
import { classifySmtpError } from './smtpErrors';

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
  send(message: Mail.Options, fileHint: string): Promise<SentInfo>;
  close(): void;
}

function addresses(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.map((a) => (typeof a === 'string' ? a : String((a as { address?: string }).address ?? a)));
}

/** Pooled SMTP: connections are reused across jobs, up to smtp.maxConnections. */
function smtpMailer(smtp: NonNullable<Config['smtp']>): Mailer {
  const server = `${smtp.host}:${smtp.port}`;
  const transport = nodemailer.createTransport({
    pool: true,
    host: smtp.host,
    port: smtp.port,
    secure: smtp.security === 'tls',
    requireTLS: smtp.security === 'starttls',
    ignoreTLS: smtp.security === 'none',
    auth: smtp.user ? { user: smtp.user, pass: smtp.password ?? '' } : undefined,
    tls: { rejectUnauthorized: smtp.rejectUnauthorized },
    maxConnections: smtp.maxConnections,
    connectionTimeout: smtp.connectionTimeoutMs,
    greetingTimeout: smtp.connectionTimeoutMs,
    socketTimeout: Math.max(smtp.connectionTimeoutMs, 60_000),
    logger: false,
  });
  return {
    description: `smtp ${server}`,
    async send(message) {
      try {
        const info = await transport.sendMail(message);
        return { messageId: info.messageId, accepted: addresses(info.accepted), rejected: addresses(info.rejected), deliveredTo: `smtp://${server}` };
      } catch (err) {
        throw classifySmtpError(err, server);
      }
    },
    close: () => transport.close(),
  };
}

/**
 * With no SMTP server configured, each message becomes an .eml file that any mail program opens. Written under
 * a temporary name and renamed, so a reader never sees half a message.
 */
function outboxMailer(dir: string): Mailer {
  // keepBcc: the file is the record of what was sent; whoever sends it on must see every recipient.
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows', keepBcc: true } as Parameters<typeof nodemailer.createTransport>[0]);
  return {
    description: `outbox ${dir}`,
    async send(message, fileHint) {
      const info = (await transport.sendMail(message)) as unknown as { messageId: string; message: Buffer; envelope: { to: string[] } };
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      const safe = fileHint.replace(/[^A-Za-z0-9._-]/g, '_');
      const file = path.join(dir, `${safe}.eml`);
      const tmp = path.join(dir, `.${safe}.eml.tmp`);
      await fs.writeFile(tmp, info.message);
      await fs.rename(tmp, file);
      return { messageId: info.messageId, accepted: info.envelope.to, rejected: [], deliveredTo: file };
    },
    close: () => undefined,
  };
}

export function createMailer(cfg: Pick<Config, 'smtp' | 'outboxDir'>): Mailer {
  return cfg.smtp ? smtpMailer(cfg.smtp) : outboxMailer(cfg.outboxDir);
}
