import { PermanentError, TransientError } from '../errors';
import { tlsFailureOf, tlsFailureMessage } from './tlsFailure';

interface NodemailerError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  rejected?: string[];
}

const NETWORK: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNECTION: 'could not connect',
  ETIMEDOUT: 'timed out',
  ESOCKET: 'the connection failed',
  EDNS: 'the host name could not be resolved',
  ECONNRESET: 'the connection was reset',
  EHOSTUNREACH: 'the host is unreachable',
  ENOTFOUND: 'the host name could not be resolved',
};

/**
 * Turns a nodemailer failure into a sentence for batch_exitstatus and the right kind of error: a 5xx reply is
 * final (the server will say the same again), a 4xx reply or a network fault is worth another try.
 */
export function classifySmtpError(err: unknown, server: string): Error {
  if (err instanceof PermanentError || err instanceof TransientError) return err;
  const e = err as NodemailerError;
  // Before the network check: nodemailer reports a refused certificate as ESOCKET, like a dropped connection.
  const tls = tlsFailureOf(err);
  if (tls) return new PermanentError(tlsFailureMessage(`SMTP server ${server}`, tls, 'smtp.tls.'));
  const reply = (e.response ?? '').trim();
  // Before the replies: a relay that does not offer STARTTLS answers the command with a 5xx, which is no refusal
  // of the message, and retrying cannot help until the config says how to talk to it.
  if (e.command === 'STARTTLS') {
    return new PermanentError(`SMTP server ${server} does not offer STARTTLS${reply ? ` (it answered "${reply}")` : ''}: ` +
      'set smtp.security (XTCONNECT_SMTP_SECURITY) to "tls" for a port that speaks TLS from the start (465), or to "none" ' +
      'for a relay on this machine or a trusted network, then retry the job');
  }
  if (typeof e.responseCode === 'number') {
    if (e.code === 'EAUTH') {
      return new PermanentError(`SMTP server ${server} refused the login (${reply || e.responseCode}); ` +
        'fix smtp.user and smtp.password in the config, then retry the job');
    }
    const what = e.command === 'RCPT TO' || e.code === 'EENVELOPE' ? 'refused a recipient' : 'rejected the message';
    const rejected = e.rejected?.length ? ` (${e.rejected.join(', ')})` : '';
    if (e.responseCode >= 500) return new PermanentError(`SMTP server ${server} ${what}${rejected}: ${reply}`);
    return new TransientError(`SMTP server ${server} temporarily ${what}${rejected}: ${reply}`);
  }
  // The socket's own code (in the message as "connect ECONNREFUSED ...") says more than nodemailer's ESOCKET.
  const inner = /\b(ECONNREFUSED|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|ENOTFOUND)\b/.exec(e.message)?.[1];
  const cause = (inner && (NETWORK[inner] ?? inner)) || (e.code && NETWORK[e.code]);
  if (cause || /ECONNREFUSED|ETIMEDOUT|ECONNRESET|socket|Greeting never received|Connection closed/i.test(e.message)) {
    return new TransientError(`could not reach SMTP server ${server}: ${cause || e.message}`);
  }
  if (e.code === 'EENVELOPE') return new PermanentError(`the message has no valid envelope: ${e.message}`);
  if (e.code === 'ETLS') return new TransientError(`TLS with SMTP server ${server} failed: ${e.message}`);
  return new TransientError(`sending through ${server} failed: ${e.message}`);
}
