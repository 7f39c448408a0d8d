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
