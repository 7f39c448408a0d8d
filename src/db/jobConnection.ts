import pg from 'pg';
import { errorMessage, isRetryableDbError, PermanentError, TransientError } from '../errors';
import type { Logger } from '../log';
import type { Client, Pool } from './pool';

/*
 * Database helpers for handlers whose work is SQL (maintenance, ERP actions): a connection of the job's own that a
 * stop cancels on the server, the statement timeout, and the database's errors as job outcomes.
 */

/**
 * Asks the server to cancel what backend `pid` is running. It goes over a connection of its own, not the pool:
 * when every pooled connection is busy with a long statement, the one that would stop them must not wait for one.
 */
export async function cancelBackend(pool: Pool, pid: number, log: Logger): Promise<void> {
  const c = new pg.Client({ ...pool.options, application_name: 'xtconnect cancel' });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('SELECT pg_cancel_backend($1)', [pid]);
  } catch (err) {
    log.warn(`could not cancel the statement of backend ${pid}: ${errorMessage(err)}`);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** A pooled connection, unless the job is stopped first (a full pool must not hold a stopped job); a late one goes back. */
export async function connectUnlessAborted(pool: Pool, signal: AbortSignal): Promise<Client> {
  signal.throwIfAborted();
  const connecting = pool.connect();
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([connecting, aborted]);
  } catch (err) {
    // The connection may still arrive after the job was stopped: give it back then.
    connecting.then((c) => c.release(), () => undefined);
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Runs `fn` on a pooled connection of its own, for statements that need one: VACUUM cannot run in a transaction
 * block, and an ERP call needs its own transaction and SET LOCAL. When ctx.signal fires (timeout, cancel, lost
 * lease, shutdown) the running statement is cancelled on the server, so the work stops rather than running on
 * after the job was given up. The connection goes back with statement_timeout reset, or is destroyed when it
 * cannot be: a pooled connection must not keep one job's settings.
 */
export async function withDedicatedClient<T>(
  ctx: { pool: Pool; signal: AbortSignal; log: Logger },
  fn: (client: Client) => Promise<T>,
): Promise<T> {
  const client = await connectUnlessAborted(ctx.pool, ctx.signal);
  let pid: number;
  try {
    pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  } catch (err) {
    client.release(err instanceof Error ? err : true);
    throw err;
  }
  let cancelling: Promise<void> | null = null;
  const onAbort = (): void => {
    cancelling ??= cancelBackend(ctx.pool, pid, ctx.log);
  };
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  let destroy: Error | boolean = false;
  try {
    ctx.signal.throwIfAborted();
    return await fn(client);
  } catch (err) {
    // A statement cut short by the stop fails with "canceling statement due to user request"; the reason the
    // executor acts on is the signal's.
    if (ctx.signal.aborted) throw ctx.signal.reason;
    throw err;
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    // A cancel request still in flight could hit the next user of this connection: wait for it first.
    if (cancelling) await cancelling;
    try {
      await client.query('RESET statement_timeout');
    } catch (err) {
      destroy = err instanceof Error ? err : true;
    }
    client.release(destroy);
  }
}

/** SET statement_timeout for the session (or, with local, for the transaction). 0 means none. */
export async function setStatementTimeout(client: Client, seconds: number, local: boolean): Promise<void> {
  await client.query(`SELECT set_config('statement_timeout', $1, $2)`, [String(Math.round(seconds * 1000)), local]);
}

interface PgError {
  code?: string;
  message?: string;
}

/**
 * A database error as the job's outcome, by the one classification in src/errors.ts: lost connections, a server
 * shutting down or starting, timeouts and cancels, serialization failures and deadlocks can succeed when tried
 * again, so they stay retryable; anything else (the function raised, a permission, a bad value) fails the job at
 * once with the database's message.
 */
export function dbFailure(what: string, err: unknown): Error {
  const message = `${what} failed: ${errorMessage(err)}`;
  return isRetryableDbError(err) ? new TransientError(message) : new PermanentError(message);
}

/**
 * As dbFailure, for a statement run under the job's OWN statement timeout (statementTimeoutSeconds, an ERP
 * action's action_timeout_seconds): reaching it is the job's time limit, like the job's timeout, and fails the job
 * (it would most likely time out again). Other timeouts and cancels stay retryable.
 */
export function limitedDbFailure(what: string, err: unknown): Error {
  if ((err as PgError | null)?.code === '57014' && /statement timeout/.test(errorMessage(err))) {
    return new PermanentError(`${what} failed: ${errorMessage(err)}`);
  }
  return dbFailure(what, err);
}
