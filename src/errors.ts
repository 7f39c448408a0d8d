/**
 * Error kinds that decide what happens to a job and to the program.
 *
 * A handler throws PermanentError when trying again cannot help (a 5xx SMTP reply, a bad address, a missing
 * file); the job fails at once. TransientError, and any error we do not recognise, is retried with backoff
 * until the job's attempts run out: an unknown error is more often a network fault than a bad job.
 */
export class PermanentError extends Error {
  override name = 'PermanentError';
}

export class TransientError extends Error {
  override name = 'TransientError';
}

/** A job row or parameter that can never run as written. The message names the job and the field. */
export class JobInputError extends PermanentError {
  override name = 'JobInputError';
  constructor(
    readonly batchId: number,
    readonly field: string,
    problem: string,
  ) {
    super(`job ${batchId}: ${field} ${problem}`);
  }
}

/** The action has no handler in this daemon; never retried. */
export class UnknownActionError extends PermanentError {
  override name = 'UnknownActionError';
  constructor(action: string, known: readonly string[]) {
    super(`no handler for action "${action}" in this xtconnect (it handles: ${known.join(', ')})`);
  }
}

/** The job ran past its timeout; never retried, because it would most likely time out again. */
export class JobTimeoutError extends PermanentError {
  override name = 'JobTimeoutError';
  constructor(seconds: number) {
    super(`did not finish within its timeout of ${seconds} s and was stopped; raise the timeout ` +
      `(daemon.jobTimeoutSeconds, daemon.actionTimeoutSeconds or the job's batch_timeout_seconds) if it needs longer`);
  }
}

/** A bad config file, environment variable or command-line argument: the program stops with exit code 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const EXIT_CONFIG = 2;

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** The daemon lost (or never had) the lease of the job: nothing it does for the job may be committed any more. */
export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
}

/*
 * One classification of database and network faults, used by the daemon's own statements and by every handler.
 *
 *   connection  the connection or the server went away (08xxx, socket errors, pg's "Connection terminated"...)
 *   shutdown    the server is stopping or starting (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now)
 *   timeout     a statement or lock waited too long (57014 query_canceled, 55P03 lock_not_available)
 *   conflict    the server chose this transaction to lose (40001 serialization_failure, 40P01 deadlock_detected):
 *               retried at once, it is no outage
 *   resources   the server is out of connections or memory for now (53xxx)
 * Each of these can succeed when tried again, so none of them may fail a job for good.
 */
export type DbFault = 'connection' | 'shutdown' | 'timeout' | 'conflict' | 'resources';

const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EPIPE', 'EAI_AGAIN', 'ECONNABORTED']);
const CONNECTION_MESSAGE =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable|Query read timeout|server closed the connection unexpectedly|the database system is (?:starting up|shutting down|in recovery mode)/i;

export function dbFault(err: unknown): DbFault | null {
  const e = err as { code?: unknown; message?: unknown; cause?: unknown } | null;
  if (!e || typeof e !== 'object') return null;
  const code = typeof e.code === 'string' ? e.code : '';
  if (code === '40001' || code === '40P01') return 'conflict';
  if (code === '57014' || code === '55P03') return 'timeout';
  if (code === '57P01' || code === '57P02' || code === '57P03') return 'shutdown';
  if (code.startsWith('53')) return 'resources';
  if (code.length === 5 && code.startsWith('08')) return 'connection';
  if (SOCKET_CODES.has(code)) return 'connection';
  if (typeof e.message === 'string' && CONNECTION_MESSAGE.test(e.message)) return 'connection';
  // Wrapped errors (AggregateError from a dual-stack connect, an Error with a cause) classify by what they wrap.
  if (e instanceof AggregateError) for (const inner of e.errors) if (dbFault(inner)) return dbFault(inner);
  if (e.cause && e.cause !== err) return dbFault(e.cause);
  return null;
}

/** Whether trying the same thing again later can succeed: every DbFault is. */
export function isRetryableDbError(err: unknown): boolean {
  return dbFault(err) !== null;
}

/** The server is away (or coming back): wait with backoff, and say "unreachable". */
export function isOutage(err: unknown): boolean {
  const f = dbFault(err);
  return f === 'connection' || f === 'shutdown' || f === 'resources';
}
