import fs from 'node:fs';
import path from 'node:path';
import winston from 'winston';
import type TransportStream from 'winston-transport';
import type { Config } from './config';
import { ConfigError } from './errors';
import { redactSecrets } from './secrets';

export type Logger = winston.Logger;

/** Syslog priorities journald reads from a "<N>" prefix: error 3, warning 4, info 6, debug 7. */
export const JOURNAL_PRIORITY: Readonly<Record<string, number>> = { error: 3, warn: 4, info: 6, debug: 7 };

// Every line goes through redactSecrets (src/secrets.ts), whatever logged it: an error message quoting a
// connection string, or a server echoing a password, must not leak it.
export { redactSecrets };

const redact = winston.format((info) => {
  const rec = info as Record<string, unknown>;
  for (const [k, v] of Object.entries(rec)) {
    if (typeof v === 'string') rec[k] = redactSecrets(v);
  }
  return info;
});

function textFormat(journal: boolean): winston.Logform.Format {
  return winston.format.printf((info) => {
    const { level, message, timestamp, scope, ...rest } = info as Record<string, unknown>;
    const fields = Object.entries(rest)
      .filter(([k]) => typeof k === 'string' && !k.startsWith('Symbol('))
      .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
      .join(' ');
    const head = journal ? `<${JOURNAL_PRIORITY[String(level)] ?? 6}>` : `${String(timestamp)} ${String(level).padEnd(5)} `;
    return `${head}${scope ? `[${String(scope)}] ` : ''}${String(message)}${fields ? ' ' + fields : ''}`;
  });
}

/** Where winston keeps the formatted line on a log entry. */
const MESSAGE = Symbol.for('message');

/**
 * The log file, rotated by size: before a line would take it past `maxBytes`, xtconnect.log becomes
 * xtconnect1.log (xtconnect1.log becomes xtconnect2.log, ...), the oldest beyond `maxFiles` is deleted, and a new
 * xtconnect.log begins ("tailable": the newest lines are always under the configured name).
 *
 * Not winston's File transport: it drops the lines logged while it rotates (winstonjs/winston#1655, open; seen
 * here with 17 of every 1,000 lines lost in a burst). Here rotation is synchronous between two lines and the old
 * file's pending writes go to its own descriptor, which the renames do not disturb, so no line is lost or
 * reordered.
 */
// winston exports its Transport base class as `Transport` (its typings call it `transport`, as a namespace).
const TransportBase = (winston as unknown as { Transport: typeof TransportStream }).Transport;

class RotatingFile extends TransportBase {
  private fd: number;
  private out: fs.WriteStream;
  private size: number;
  private failed = false;

  constructor(private readonly file: string, private readonly maxBytes: number, private readonly maxFiles: number, format: winston.Logform.Format) {
    super({ format });
    try {
      this.fd = fs.openSync(file, 'a', 0o640);
    } catch (err) {
      throw new ConfigError(`log.file: cannot open ${file} for writing (${(err as Error).message}); under systemd use a LogsDirectory= folder such as /var/log/xtconnect`);
    }
    this.size = fs.fstatSync(this.fd).size;
    this.out = this.open(this.fd);
  }

  private open(fd: number): fs.WriteStream {
    const out = fs.createWriteStream(this.file, { fd, autoClose: true });
    out.on('error', (err) => this.trouble(`log file ${this.file}: ${err.message}`));
    return out;
  }

  /** `base.log` → `base<n>.log`, as winston names them. */
  private nth(n: number): string {
    const ext = path.extname(this.file);
    return n === 0 ? this.file : `${this.file.slice(0, this.file.length - ext.length)}${n}${ext}`;
  }

  private rotate(): void {
    try {
      this.out.end();
      const gone = this.nth(this.maxFiles - 1);
      if (this.maxFiles === 1 || fs.existsSync(gone)) fs.rmSync(gone, { force: true });
      for (let n = this.maxFiles - 2; n >= 0; n--) {
        if (fs.existsSync(this.nth(n))) fs.renameSync(this.nth(n), this.nth(n + 1));
      }
      this.fd = fs.openSync(this.file, 'a', 0o640);
      this.size = 0;
      this.out = this.open(this.fd);
    } catch (err) {
      // Keep logging where we can rather than lose lines; say so once.
      this.trouble(`could not rotate the log file ${this.file}: ${(err as Error).message}`);
      if (this.out.writableEnded) {
        this.fd = fs.openSync(this.file, 'a', 0o640);
        this.out = this.open(this.fd);
      }
    }
  }

  private trouble(message: string): void {
    if (this.failed) return;
    this.failed = true;
    process.stderr.write(`xtconnect: ${message}\n`);
  }

  override log(info: Record<string | symbol, unknown>, next: () => void): void {
    const line = `${String(info[MESSAGE])}\n`;
    const bytes = Buffer.byteLength(line);
    if (this.size > 0 && this.size + bytes > this.maxBytes) this.rotate();
    this.size += bytes;
    this.out.write(line);
    next();
  }

  override close(): void {
    this.out.end();
  }
}

export interface LoggerOptions {
  /** Where console lines go; process.stderr unless a test catches them. */
  stderr?: NodeJS.WritableStream;
}

/**
 * Lines go to stderr (stdout stays clean for the commands that print results: status --json, list, show). Under
 * systemd (JOURNAL_STREAM set) the journal stamps each line itself, so the text format leaves the time out and
 * prefixes the syslog priority journald reads; the journal rotates itself, so no logrotate is needed.
 *
 * With log.file, lines also go to that file (always with their time: nothing stamps them there), rotated by
 * size: at log.maxSizeMb the file is renamed and a new one begun, keeping log.maxFiles files in all. "tailable"
 * keeps the newest lines in the configured name, so `tail -F` and log shippers follow one path.
 */
export function createLogger(cfg: Pick<Config, 'log'>, env: NodeJS.ProcessEnv = process.env, opts: LoggerOptions = {}): Logger {
  const journal = Boolean(env.JOURNAL_STREAM);
  const shape = (journalStyle: boolean): winston.Logform.Format =>
    cfg.log.format === 'json'
      ? winston.format.combine(redact(), winston.format.timestamp(), winston.format.json())
      : winston.format.combine(redact(), winston.format.timestamp(), textFormat(journalStyle));
  const transports: winston.transport[] = [
    new winston.transports.Stream({ stream: opts.stderr ?? process.stderr, format: shape(journal) }),
  ];
  if (cfg.log.file) transports.push(new RotatingFile(cfg.log.file, cfg.log.maxSizeMb * 1024 * 1024, cfg.log.maxFiles, shape(false)));
  return gateLevels(winston.createLogger({ level: cfg.log.level, format: passThrough, transports }));
}

/** A logger that drops everything, for library use and tests that do not care. */
export function silentLogger(): Logger {
  return gateLevels(winston.createLogger({ silent: true, format: passThrough, transports: [new winston.transports.Console({ silent: true })] }));
}

/**
 * The logger's own format. Each transport formats the line itself (shape() above); winston's default here is
 * format.json(), which would JSON.stringify every entry, kept or dropped, before any transport looks at its level.
 */
const passThrough = winston.format((info) => info)();

/**
 * winston hands every entry to its stream pipeline (an object copy, a Transform, the logger's format) before a
 * transport checks the level: a debug line at level info cost as much as a printed one (issue 17: 17 % of the
 * daemon's CPU at 50 concurrent no-op jobs). Each level method of this instance, and of its children (they
 * inherit from it), now returns at once when no transport would keep the line. `logger.level` may still change
 * at run time: the check reads it on every call.
 */
function gateLevels(logger: Logger): Logger {
  const self = logger as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const level of Object.keys(logger.levels)) {
    const write = self[level];
    if (typeof write !== 'function') continue;
    self[level] = function gated(this: Logger, ...args: unknown[]) {
      const l = this ?? logger;
      if (l.silent || !l.isLevelEnabled(level)) return l;
      return write.apply(l, args);
    };
  }
  return logger;
}

/**
 * Logs `message` at `level` with `meta` only when the level is on: no entry object, child logger or formatting
 * otherwise. For lines logged once per job.
 */
export function logIf(log: Logger, level: 'error' | 'warn' | 'info' | 'debug', message: string, meta: Record<string, unknown>): void {
  if (log.silent || !log.isLevelEnabled(level)) return;
  log.log(level, message, meta);
}

/**
 * A job's logger for its handler, made only when the handler first logs: most jobs never do, and a winston child
 * per job (an object with its own write closure, and an Object.assign per line) showed in the no-op profile.
 */
export function lazyChild(parent: Logger, meta: Record<string, unknown>): () => Logger {
  let child: Logger | null = null;
  return () => (child ??= parent.child(meta));
}
