import winston from 'winston';
import type { Config } from './config';

export type Logger = winston.Logger;

/**
 * Under systemd (JOURNAL_STREAM set) the journal stamps each line itself, so the text format leaves the time out
 * and prefixes the syslog priority (<3> error, <4> warning, <6> info, <7> debug) that journald reads.
 */
export function createLogger(cfg: Pick<Config, 'log'>, env: NodeJS.ProcessEnv = process.env): Logger {
  const journal = Boolean(env.JOURNAL_STREAM);
  const priority: Record<string, number> = { error: 3, warn: 4, info: 6, debug: 7 };
  const text = winston.format.printf((info) => {
    const { level, message, timestamp, scope, ...rest } = info as Record<string, unknown>;
    const fields = Object.entries(rest)
      .filter(([k]) => typeof k === 'string' && !k.startsWith('Symbol('))
      .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
      .join(' ');
    const head = journal ? `<${priority[String(level)] ?? 6}>` : `${String(timestamp)} ${String(level).padEnd(5)} `;
    return `${head}${scope ? `[${String(scope)}] ` : ''}${String(message)}${fields ? ' ' + fields : ''}`;
  });
  return winston.createLogger({
    level: cfg.log.level,
    format:
      cfg.log.format === 'json'
        ? winston.format.combine(winston.format.timestamp(), winston.format.json())
        : winston.format.combine(winston.format.timestamp(), text),
    // Everything to stderr: stdout stays clean for the commands that print results (status --json, list, show).
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
  });
}

/** A logger that drops everything, for library use and tests that do not care. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
