import fs from 'node:fs';
import type { ImapFlow, ImapFlowOptions } from 'imapflow';
import { errorMessage, PermanentError, TransientError } from '../errors';
import type { Logger } from '../log';
import { tlsFailureMessage, tlsFailureOf } from '../mail/tlsFailure';
import { describeMailbox, mailboxEnvVar, type Mailbox } from './mailboxes';

/** imapflow options for one configured mailbox. Reads the CA file, so a missing one fails before any connection. */
export function imapOptions(mb: Mailbox): ImapFlowOptions {
  let ca: Buffer | undefined;
  if (mb.tls.caPath) {
    try {
      ca = fs.readFileSync(mb.tls.caPath);
    } catch (err) {
      throw new PermanentError(`${describeMailbox(mb)}: cannot read tls.caPath ${mb.tls.caPath}: ${errorMessage(err)}`);
    }
  }
  return {
    host: mb.host,
    port: mb.port,
    secure: mb.security === 'tls',
    // starttls insists on the upgrade: a server (or something in between) that does not offer it gets no password.
    doSTARTTLS: mb.security === 'starttls' ? true : mb.security === 'none' ? false : undefined,
    auth: mb.accessToken ? { user: mb.user, accessToken: mb.accessToken } : { user: mb.user, pass: mb.password ?? '' },
    tls: {
      rejectUnauthorized: mb.tls.rejectUnauthorized,
      ...(ca ? { ca } : {}),
      ...(mb.tls.servername ? { servername: mb.tls.servername } : {}),
    },
    connectionTimeout: mb.timeoutMs,
    greetingTimeout: mb.timeoutMs,
    socketTimeout: Math.max(mb.timeoutMs, 30_000),
    // One job reads and leaves: no IDLE between commands, no background NOOPs.
    disableAutoIdle: true,
    logger: false,
    emitLogs: false,
  } as ImapFlowOptions;
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|HOSTNAME|ALTNAME/i;

/**
 * An IMAP failure as a job error naming the mailbox. A refused login or an untrusted certificate will not fix
 * itself by retrying (the next scheduled run tries again); a server that is down or slow will.
 */
export function classifyImapError(mb: Mailbox, err: unknown): Error {
  if (err instanceof PermanentError || err instanceof TransientError) return err;
  const e = err as { code?: string; authenticationFailed?: boolean; responseText?: string; tlsFailed?: boolean; mailboxMissing?: boolean; path?: string };
  const what = describeMailbox(mb);
  const detail = e.responseText || errorMessage(err);
  if (e.authenticationFailed) {
    const secret = mb.accessToken ? 'access token' : 'password';
    const envVar = mailboxEnvVar(mb.name, mb.accessToken ? 'ACCESSTOKEN' : 'PASSWORD');
    return new PermanentError(`${what}: the server refused the login of "${mb.user}" (${detail}); check the ${secret} ` +
      `(mailboxes[].${mb.accessToken ? 'accessToken' : 'password'} or ${envVar})`);
  }
  const tls = tlsFailureOf(err);
  if (tls) return new PermanentError(tlsFailureMessage(what, tls, `mailboxes[${mb.name}].tls.`));
  if (e.tlsFailed || (e.code && TLS_CODES.test(e.code)) || /certificate/i.test(detail)) {
    return new PermanentError(`${what}: the server's TLS certificate is not trusted (${detail}); set tls.caPath to its CA, ` +
      'or tls.servername when it is reached under another name');
  }
  if (e.mailboxMissing) {
    return new PermanentError(`${what}: folder "${e.path ?? '?'}" does not exist on the server (${detail}); fix mailboxes[].folders or moveTo`);
  }
  return new TransientError(`${what}: ${detail}${e.code && !detail.includes(e.code) ? ` (${e.code})` : ''}`);
}

/**
 * A logged-in client. Its 'error' events (a socket failing between commands) are logged: an unhandled 'error'
 * would end the process, and the command that was waiting fails on its own.
 */
export async function connectImap(mb: Mailbox, log: Logger): Promise<ImapFlow> {
  // imapflow is loaded by the first EmailSync job: a daemon that never syncs mail does not carry it in memory.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { ImapFlow: Client } = require('imapflow') as typeof import('imapflow');
  const client = new Client(imapOptions(mb));
  client.on('error', (err: Error) => log.debug(`${describeMailbox(mb)}: connection error: ${err.message}`));
  try {
    await client.connect();
  } catch (err) {
    client.close();
    throw classifyImapError(mb, err);
  }
  return client;
}
