import { execFile } from 'node:child_process';
import type { Logger } from '../log';

/**
 * sd_notify(3) for a unit with Type=notify. Node has no unix datagram sockets, so each message is sent by
 * running systemd-notify(1), which is why the unit needs NotifyAccess=all: the sender is that child, not us.
 *
 * Attribution race: PID 1 attributes a message to a unit by the sender's PID, looked up when it reads the
 * message; a sender that has already exited cannot be attributed and its message is dropped. systemd-notify of
 * systemd ≥ 246 (Debian 12 ships 252) waits after sending until PID 1 has processed it (a BARRIER=1 message with
 * a pipe PID 1 closes), so the child is alive when the message is read; --no-block would give up that wait, and
 * is never used. It first tries to send with our PID as sender, which needs privileges the service does not have,
 * and falls back to its own. Messages are sent one at a time, in order: READY=1 never overtakes STATUS=, and
 * STOPPING=1 comes last.
 */
export interface Notifier {
  /** False when NOTIFY_SOCKET is unset (not under systemd, or Type= is not notify): every call does nothing. */
  readonly enabled: boolean;
  /** Start-up is complete; MAINPID is sent too, so the manager tracks this process even behind a wrapper. */
  ready(status: string): Promise<void>;
  status(status: string): Promise<void>;
  /** Start-up is still progressing: give it `ms` more before TimeoutStartSec= counts it as failed. */
  extendTimeout(ms: number, status: string): Promise<void>;
  /** A watchdog keep-alive; pings already waiting to be sent are not queued twice. */
  watchdog(status?: string): Promise<void>;
  stopping(status: string): Promise<void>;
  /** Resolves when everything queued has been sent (or has failed). */
  flush(): Promise<void>;
}

export interface NotifierOptions {
  env?: NodeJS.ProcessEnv;
  log: Logger;
  /** The program that sends; systemd-notify from PATH unless given. */
  command?: string;
  pid?: number;
}

/** PID 1 closes the barrier at once; systemd-notify gives up after 5 s by itself. This is the backstop. */
const SEND_TIMEOUT_MS = 15_000;

/** One line per field: a newline inside a STATUS= text would start a field of its own. */
function field(name: string, value: string): string {
  return `${name}=${value.replace(/[\r\n]+/g, ' ')}`;
}

export function createNotifier(opts: NotifierOptions): Notifier {
  const env = opts.env ?? process.env;
  const socket = env.NOTIFY_SOCKET;
  const command = opts.command ?? 'systemd-notify';
  const pid = opts.pid ?? process.pid;
  const log = opts.log;
  let queue: Promise<void> = Promise.resolve();
  let pingQueued = false;
  let failedOnce = false;

  const run = (args: string[]): Promise<void> =>
    new Promise((resolve) => {
      // Only what systemd-notify needs: the daemon's environment may hold secrets (DATABASE_URL).
      const childEnv = { PATH: env.PATH ?? '/usr/bin:/bin', NOTIFY_SOCKET: socket };
      execFile(command, args, { env: childEnv, timeout: SEND_TIMEOUT_MS }, (err, _stdout, stderr) => {
        if (err && !failedOnce) {
          // Once is enough: a watchdog ping every few seconds would flood the log with the same complaint.
          failedOnce = true;
          const why = String(stderr).trim() || err.message;
          log.error(`could not notify systemd with ${command} (${why}); with Type=notify the unit will not become ` +
            'active and its watchdog will restart it: is systemd-notify installed, and NotifyAccess=all set?', { scope: 'systemd' });
        }
        resolve();
      });
    });

  const send = (fields: string[]): Promise<void> => {
    if (!socket) return Promise.resolve();
    queue = queue.then(() => run(fields));
    return queue;
  };

  return {
    enabled: Boolean(socket),
    ready: (status) => send([`--pid=${pid}`, 'READY=1', field('STATUS', status)]),
    status: (status) => send([field('STATUS', status)]),
    extendTimeout: (ms, status) => send([`EXTEND_TIMEOUT_USEC=${Math.ceil(ms) * 1000}`, field('STATUS', status)]),
    watchdog(status) {
      if (!socket) return Promise.resolve();
      if (pingQueued) return queue;
      pingQueued = true;
      return send(['WATCHDOG=1', ...(status ? [field('STATUS', status)] : [])]).finally(() => (pingQueued = false));
    },
    stopping: (status) => send(['STOPPING=1', field('STATUS', status)]),
    flush: () => queue,
  };
}
