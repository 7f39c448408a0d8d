import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { ConfigError } from './errors';
import type { ScheduleDef } from './db/queries/schedules';
import { scheduleFromConfig } from './schedule/fromConfig';
import { parseEdiProfileOptions, parseEndpoints, type EdiProfileOptions, type Endpoint } from './transfer/endpoints';
import { parseMailboxes, type Mailbox } from './sync/mailboxes';
import { readSmtpTls, type SmtpTls } from './mail/tlsConfig';

/** Every setting the daemon reads from its file. xtconnect.example.yaml documents each key. */
export interface Config {
  /** Where the config came from, for messages. */
  source: string;
  database: {
    /** Connection string; null means "use PG* variables", or the embedded server when none is set either. */
    url: string | null;
    /** Use the embedded PostgreSQL (no database configured anywhere). */
    embedded: boolean;
    poolSize: number;
    /** Use LISTEN/NOTIFY to start jobs at once; polling remains the safety net. */
    listen: boolean;
    /** A direct connection string for LISTEN when `url` goes through PgBouncer in transaction mode. */
    listenUrl: string | null;
    statementTimeoutMs: number;
  };
  dataDir: string;
  outboxDir: string;
  spoolDir: string;
  /** Where FileDownload puts files when the job names no inbox. */
  inboxDir: string;
  /** Places FileUpload/FileDownload jobs name (`endpoints:`), checked at load. */
  endpoints: Endpoint[];
  /** `ediProfiles:` TLS settings (a CA) for xTuple's FTP EDI profiles, by profile name. */
  ediProfiles?: Record<string, EdiProfileOptions>;
  /** The only folders whose files a job may read or write (attachments, uploads, download inboxes). */
  fileRoots: string[];
  /** `retry.<action>`: that action's retry period and attempt limit (0: none), over daemon.retryPeriod/maxAttempts. */
  retry?: Record<string, { periodSeconds?: number; maxAttempts?: number }>;
  daemon: {
    concurrency: number;
    /** At most this many jobs claimed ahead of free slots (only as many as fast jobs need; none for slow ones). */
    prefetch: number;
    actionConcurrency: Record<string, number>;
    pollIntervalMs: number;
    leaseSeconds: number;
    maxAttempts: number;
    /** `daemon.retryPeriod`: how long transient failures are retried, from the first (docs/reliability.md). */
    retryPeriodSeconds?: number;
    backoffBaseSeconds: number;
    backoffMaxSeconds: number;
    jobTimeoutSeconds: number;
    actionTimeoutSeconds: Record<string, number>;
    drainTimeoutSeconds: number;
    maintenanceIntervalSeconds: number;
    /** How often a daemon inserts due occurrences of repeating series (they are inserted this far ahead, twice). */
    schedulerIntervalSeconds: number;
    /** Cron expression of the built-in "purge" series, in the machine's time zone. */
    purgeSchedule: string;
  };
  /** Series the daemon owns (from the config file), plus the built-in purge. */
  schedules: ScheduleDef[];
  smtp: null | {
    host: string;
    port: number;
    /** "tls" connects with TLS; "starttls" requires the upgrade; "none" sends in clear (loopback relays). */
    security: 'tls' | 'starttls' | 'none';
    user: string | null;
    password: string | null;
    rejectUnauthorized: boolean;
    /** `smtp.tls`: the CA to trust (a private CA), the name the certificate carries, the oldest TLS version. Absent: the system's CAs. */
    tls?: SmtpTls;
    maxConnections: number;
    connectionTimeoutMs: number;
  };
  /** IMAP mailboxes the EmailSync action imports into the ERP (`mailboxes:`). */
  mailboxes: Mailbox[];
  reports: {
    /** Where report output goes when a job asks for a folder delivery and names none; also a file root. */
    outputDir: string;
    /** Each report query runs read-only with this statement timeout. */
    queryTimeoutSeconds: number;
  };
  /** The HTTP listener for /metrics and /healthz; null (the default) means none. */
  metrics: null | { host: string; port: number };
  /** The web console (docs/console.md): served by the daemon when `listen` is set (optional for hand-built configs). */
  console?: {
    listen: null | { host: string; port: number };
    /** Accept console logins the database lets in without a password (trust authentication); off by default. */
    allowPasswordlessLogin: boolean;
    /** Login attempts allowed per client address per minute. */
    loginAttemptsPerMinute: number;
  };
  log: {
    level: 'error' | 'warn' | 'info' | 'debug';
    format: 'text' | 'json';
    /** A file to log to as well as stderr (which the journal reads); rotated by size. */
    file: string | null;
    maxSizeMb: number;
    maxFiles: number;
  };
  status: {
    /** Failures in the last 24 h at or above this make status unhealthy. */
    maxFailures24h: number;
    /** A due job waiting longer than this makes status unhealthy. */
    maxQueueAgeSeconds: number;
    /** A daemon whose heartbeat is older than this is not alive. */
    daemonStaleSeconds: number;
  };
}

export const DEFAULT_CONFIG_PATH = '/etc/xtconnect/xtconnect.yaml';

function defaultDataDir(env: NodeJS.ProcessEnv): string {
  if (env.STATE_DIRECTORY) return env.STATE_DIRECTORY.split(':')[0]!; // systemd StateDirectory=
  // root's home is closed to other users, and the embedded PostgreSQL runs as one ('postgres').
  if (typeof process.getuid === 'function' && process.getuid() === 0 && !env.XDG_STATE_HOME) return '/var/lib/xtconnect';
  const base = env.XDG_STATE_HOME || path.join(env.HOME || os.homedir(), '.local', 'state');
  return path.join(base, 'xtconnect');
}

type Raw = Record<string, unknown>;

/** Reads one typed value out of the parsed file, with a message that names the key when it is wrong. */
class Reader {
  constructor(private readonly source: string) {}

  fail(key: string, want: string, got: unknown): never {
    throw new ConfigError(`${this.source}: ${key} must be ${want} (got ${JSON.stringify(got)})`);
  }

  section(raw: Raw, key: string, prefix: string): Raw {
    const v = raw[key];
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(prefix + key, 'a section of key: value lines', v);
    return v as Raw;
  }

  int(raw: Raw, key: string, prefix: string, dflt: number, min: number, max: number): number {
    const v = raw[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(prefix + key, `a whole number from ${min} to ${max}`, v);
    }
    return v;
  }

  /** A duration such as "48h", "90m", "1h30m", "2d" or "30s", or a number of seconds. */
  seconds(raw: Raw, key: string, prefix: string, dflt: number, min: number, max: number): number {
    const v = raw[key];
    if (v === undefined || v === null) return dflt;
    const want = `a duration from ${min} s to ${max / 86_400} days, such as "48h", "90m", "1h30m", "2d" or a number of seconds`;
    let n = NaN;
    if (typeof v === 'number') n = v;
    else if (typeof v === 'string' && /^\s*(?:\d+\s*[dhms]\s*)+$/i.test(v)) {
      const unit: Record<string, number> = { d: 86_400, h: 3600, m: 60, s: 1 };
      n = [...v.matchAll(/(\d+)\s*([dhms])/gi)].reduce((a, m) => a + Number(m[1]) * unit[m[2]!.toLowerCase()]!, 0);
    }
    if (!Number.isFinite(n) || n < min || n > max) this.fail(prefix + key, want, v);
    return n;
  }

  bool(raw: Raw, key: string, prefix: string, dflt: boolean): boolean {
    const v = raw[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'boolean') this.fail(prefix + key, 'true or false', v);
    return v;
  }

  str(raw: Raw, key: string, prefix: string, dflt: string | null): string | null {
    const v = raw[key];
    if (v === undefined || v === null || v === '') return dflt;
    if (typeof v !== 'string') this.fail(prefix + key, 'text', v);
    return v;
  }

  oneOf<T extends string>(raw: Raw, key: string, prefix: string, dflt: T, allowed: readonly T[]): T {
    const v = raw[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'string' || !allowed.includes(v as T)) this.fail(prefix + key, `one of ${allowed.join(', ')}`, v);
    return v as T;
  }

  intMap(raw: Raw, key: string, prefix: string, min: number, max: number): Record<string, number> {
    const section = this.section(raw, key, prefix);
    const out: Record<string, number> = {};
    for (const name of Object.keys(section)) out[name] = this.int(section, name, `${prefix}${key}.`, 0, min, max);
    return out;
  }
}

const KNOWN: Record<string, readonly string[]> = {
  '': ['database', 'dataDir', 'outboxDir', 'spoolDir', 'inboxDir', 'fileRoots', 'endpoints', 'ediProfiles', 'retry', 'daemon', 'smtp', 'log', 'status',
    'schedules', 'mailboxes', 'reports', 'metrics', 'console'],
  database: ['url', 'poolSize', 'listen', 'listenUrl', 'statementTimeoutMs'],
  daemon: ['concurrency', 'prefetch', 'actionConcurrency', 'pollIntervalMs', 'leaseSeconds', 'maxAttempts', 'retryPeriod', 'backoffBaseSeconds',
    'backoffMaxSeconds', 'jobTimeoutSeconds', 'actionTimeoutSeconds', 'drainTimeoutSeconds',
    'maintenanceIntervalSeconds', 'schedulerIntervalSeconds', 'purgeSchedule'],
  smtp: ['host', 'port', 'security', 'user', 'password', 'rejectUnauthorized', 'tls', 'maxConnections', 'connectionTimeoutMs'],
  log: ['level', 'format', 'file', 'maxSizeMb', 'maxFiles'],
  reports: ['outputDir', 'queryTimeoutSeconds'],
  metrics: ['listen'],
  console: ['listen', 'allowPasswordlessLogin', 'loginAttemptsPerMinute'],
  status: ['maxFailures24h', 'maxQueueAgeSeconds', 'daemonStaleSeconds'],
};

/**
 * `retry:` by action name, each with `period` (a duration) and/or `maxAttempts` (0: no attempt limit), over
 * daemon.retryPeriod and daemon.maxAttempts. Email retries for 48 hours with no attempt limit, as a mail server
 * does, unless the file says otherwise. docs/reliability.md.
 */
function readRetry(r: Reader, source: string, raw: Raw): NonNullable<Config['retry']> {
  const out: NonNullable<Config['retry']> = { Email: { periodSeconds: 48 * 3600, maxAttempts: 0 } };
  const section = r.section(raw, 'retry', '');
  for (const action of Object.keys(section)) {
    const a = r.section(section, action, 'retry.');
    for (const k of Object.keys(a)) {
      if (k !== 'period' && k !== 'maxAttempts') throw new ConfigError(`${source}: unknown key "retry.${action}.${k}" (known keys here: period, maxAttempts)`);
    }
    const rule = { ...out[action] };
    if (a.period !== undefined && a.period !== null) rule.periodSeconds = r.seconds(a, 'period', `retry.${action}.`, 0, 0, 30 * 86_400);
    if (a.maxAttempts !== undefined && a.maxAttempts !== null) rule.maxAttempts = r.int(a, 'maxAttempts', `retry.${action}.`, 0, 0, 1_000_000);
    out[action] = rule;
  }
  return out;
}

/** A misspelt key is an error, not a silently ignored line: the administrator meant something by it. */
function rejectUnknownKeys(source: string, raw: Raw): void {
  for (const [section, keys] of Object.entries(KNOWN)) {
    const obj = section === '' ? raw : raw[section];
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) continue;
    for (const k of Object.keys(obj)) {
      if (!keys.includes(k)) {
        const where = section ? `${section}.${k}` : k;
        throw new ConfigError(`${source}: unknown key "${where}" (known keys here: ${keys.join(', ')})`);
      }
    }
  }
}

function readFile(file: string, explicit: boolean): { raw: Raw; source: string } {
  if (!fs.existsSync(file)) {
    if (explicit) throw new ConfigError(`config file ${file} does not exist; fix --config or create it from xtconnect.example.yaml`);
    return { raw: {}, source: 'defaults' };
  }
  let parsed: unknown;
  try {
    parsed = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid YAML: ${(err as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return { raw: {}, source: file };
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${file} must hold sections of key: value lines`);
  }
  return { raw: parsed as Raw, source: file };
}

export interface ConfigFlags {
  config?: string;
  databaseUrl?: string;
}

/**
 * Builds the config from the file, then the environment (DATABASE_URL, PG*, XTCONNECT_SMTP_PASSWORD, ...), then
 * flags. Throws ConfigError naming the key when a value is wrong.
 */
export function loadConfig(flags: ConfigFlags = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const file = flags.config ?? env.XTCONNECT_CONFIG ?? DEFAULT_CONFIG_PATH;
  const { raw, source } = readFile(file, Boolean(flags.config ?? env.XTCONNECT_CONFIG));
  rejectUnknownKeys(source, raw);
  const r = new Reader(source);

  const db = r.section(raw, 'database', '');
  const daemon = r.section(raw, 'daemon', '');
  const smtp = r.section(raw, 'smtp', '');
  const log = r.section(raw, 'log', '');
  const status = r.section(raw, 'status', '');
  const reports = r.section(raw, 'reports', '');
  const metrics = r.section(raw, 'metrics', '');
  const consoleRaw = r.section(raw, 'console', '');

  const url = checkDatabaseUrl(source, flags.databaseUrl !== undefined ? ['--database-url', flags.databaseUrl]
    : env.DATABASE_URL !== undefined ? ['DATABASE_URL', env.DATABASE_URL] : ['database.url', r.str(db, 'url', 'database.', null)]);
  // pg reads the PG* variables itself; any of them means the administrator pointed us at a server.
  const pgEnv = ['PGHOST', 'PGDATABASE', 'PGPORT', 'PGUSER', 'PGSERVICE'].some((k) => env[k]);
  const dataDir = r.str(raw, 'dataDir', '', null) ?? defaultDataDir(env);

  const smtpHost = env.XTCONNECT_SMTP_HOST ?? r.str(smtp, 'host', 'smtp.', null);
  const cfg: Config = {
    source,
    database: {
      url,
      embedded: !url && !pgEnv,
      poolSize: r.int(db, 'poolSize', 'database.', 10, 2, 200),
      listen: r.bool(db, 'listen', 'database.', true),
      listenUrl: env.XTCONNECT_LISTEN_URL ?? r.str(db, 'listenUrl', 'database.', null),
      statementTimeoutMs: r.int(db, 'statementTimeoutMs', 'database.', 30_000, 0, 86_400_000),
    },
    dataDir,
    outboxDir: r.str(raw, 'outboxDir', '', null) ?? path.join(dataDir, 'outbox'),
    spoolDir: r.str(raw, 'spoolDir', '', null) ?? path.join(dataDir, 'spool'),
    inboxDir: r.str(raw, 'inboxDir', '', null) ?? path.join(dataDir, 'inbox'),
    endpoints: parseEndpoints(raw.endpoints, source, env),
    ediProfiles: parseEdiProfileOptions(raw.ediProfiles, source),
    fileRoots: [],
    daemon: {
      concurrency: r.int(daemon, 'concurrency', 'daemon.', 10, 1, 1000),
      prefetch: r.int(daemon, 'prefetch', 'daemon.', 500, 0, 10_000),
      actionConcurrency: r.intMap(daemon, 'actionConcurrency', 'daemon.', 1, 1000),
      pollIntervalMs: r.int(daemon, 'pollIntervalMs', 'daemon.', 5000, 100, 3_600_000),
      leaseSeconds: r.int(daemon, 'leaseSeconds', 'daemon.', 60, 1, 86_400),
      maxAttempts: r.int(daemon, 'maxAttempts', 'daemon.', 5, 1, 100),
      retryPeriodSeconds: r.seconds(daemon, 'retryPeriod', 'daemon.', 3600, 0, 30 * 86_400),
      backoffBaseSeconds: r.int(daemon, 'backoffBaseSeconds', 'daemon.', 10, 0, 86_400),
      backoffMaxSeconds: r.int(daemon, 'backoffMaxSeconds', 'daemon.', 3600, 0, 7 * 86_400),
      jobTimeoutSeconds: r.int(daemon, 'jobTimeoutSeconds', 'daemon.', 3600, 1, 7 * 86_400),
      actionTimeoutSeconds: r.intMap(daemon, 'actionTimeoutSeconds', 'daemon.', 1, 7 * 86_400),
      drainTimeoutSeconds: r.int(daemon, 'drainTimeoutSeconds', 'daemon.', 30, 0, 3600),
      maintenanceIntervalSeconds: r.int(daemon, 'maintenanceIntervalSeconds', 'daemon.', 15, 1, 3600),
      schedulerIntervalSeconds: r.int(daemon, 'schedulerIntervalSeconds', 'daemon.', 30, 1, 3600),
      purgeSchedule: r.str(daemon, 'purgeSchedule', 'daemon.', '17 3 * * *')!,
    },
    schedules: [],
    smtp: smtpHost
      ? {
          host: smtpHost,
          port: env.XTCONNECT_SMTP_PORT ? parsePort(source, env.XTCONNECT_SMTP_PORT) : r.int(smtp, 'port', 'smtp.', 587, 1, 65535),
          security: r.oneOf(smtp, 'security', 'smtp.', 'starttls', ['tls', 'starttls', 'none'] as const),
          user: env.XTCONNECT_SMTP_USER ?? r.str(smtp, 'user', 'smtp.', null),
          password: env.XTCONNECT_SMTP_PASSWORD ?? r.str(smtp, 'password', 'smtp.', null),
          ...readSmtpTls(source, smtp.tls, smtp.rejectUnauthorized),
          maxConnections: r.int(smtp, 'maxConnections', 'smtp.', 5, 1, 100),
          connectionTimeoutMs: r.int(smtp, 'connectionTimeoutMs', 'smtp.', 30_000, 100, 600_000),
        }
      : null,
    mailboxes: parseMailboxes(raw.mailboxes, source, env),
    reports: {
      outputDir: r.str(reports, 'outputDir', 'reports.', null) ?? path.join(dataDir, 'reports'),
      queryTimeoutSeconds: r.int(reports, 'queryTimeoutSeconds', 'reports.', 300, 1, 86_400),
    },
    metrics: parseListen(source, env.XTCONNECT_METRICS_LISTEN ?? (typeof metrics.listen === 'number' ? String(metrics.listen) : r.str(metrics, 'listen', 'metrics.', null))),
    console: {
      listen: parseListen(source, env.XTCONNECT_CONSOLE_LISTEN ?? (typeof consoleRaw.listen === 'number' ? String(consoleRaw.listen) : r.str(consoleRaw, 'listen', 'console.', null)), 'console.listen', '127.0.0.1:8080'),
      allowPasswordlessLogin: r.bool(consoleRaw, 'allowPasswordlessLogin', 'console.', false),
      loginAttemptsPerMinute: r.int(consoleRaw, 'loginAttemptsPerMinute', 'console.', 10, 1, 100_000),
    },
    log: {
      level: logLevelFromEnv(env) ?? r.oneOf(log, 'level', 'log.', 'info', LOG_LEVELS),
      format: r.oneOf(log, 'format', 'log.', 'text', ['text', 'json'] as const),
      file: r.str(log, 'file', 'log.', null),
      maxSizeMb: r.int(log, 'maxSizeMb', 'log.', 50, 1, 100_000),
      maxFiles: r.int(log, 'maxFiles', 'log.', 5, 1, 1000),
    },
    status: {
      maxFailures24h: r.int(status, 'maxFailures24h', 'status.', 10, 1, 1_000_000),
      maxQueueAgeSeconds: r.int(status, 'maxQueueAgeSeconds', 'status.', 900, 1, 30 * 86_400),
      daemonStaleSeconds: r.int(status, 'daemonStaleSeconds', 'status.', 60, 5, 86_400),
    },
  };
  if (cfg.smtp && (cfg.smtp.user === null) !== (cfg.smtp.password === null)) {
    throw new ConfigError(`${source}: smtp.user and smtp.password go together (set both, or neither for an open relay)`);
  }
  if (cfg.log.file !== null && !path.isAbsolute(cfg.log.file)) {
    throw new ConfigError(`${source}: log.file must be an absolute path (got ${JSON.stringify(cfg.log.file)})`);
  }
  cfg.fileRoots = readFileRoots(source, raw.fileRoots, [cfg.spoolDir, cfg.inboxDir, cfg.reports.outputDir]);
  cfg.schedules = readSchedules(source, raw.schedules, cfg.daemon.purgeSchedule);
  cfg.retry = readRetry(r, source, raw);
  if (cfg.daemon.backoffMaxSeconds < cfg.daemon.backoffBaseSeconds) {
    throw new ConfigError(`${source}: daemon.backoffMaxSeconds must be at least daemon.backoffBaseSeconds`);
  }
  return cfg;
}

/**
 * The `schedules:` list, plus the built-in "purge" series (daily at daemon.purgeSchedule) unless the list has its
 * own entry named "purge".
 */
function readSchedules(source: string, raw: unknown, purgeCron: string): ScheduleDef[] {
  if (raw !== undefined && raw !== null && !Array.isArray(raw)) {
    throw new ConfigError(`${source}: schedules must be a list of entries (- name: ..., action: ..., cron: ...)`);
  }
  const defs = ((raw as unknown[] | undefined) ?? []).map((e, i) => scheduleFromConfig(e, i, source));
  const names = new Map<string, number>();
  defs.forEach((d, i) => {
    const first = names.get(d.name!);
    if (first !== undefined) throw new ConfigError(`${source}: schedules[${i}].name "${d.name}" is used twice (also schedules[${first}])`);
    names.set(d.name!, i);
  });
  if (!names.has('purge')) {
    try {
      defs.push(scheduleFromConfig({ name: 'purge', action: 'Purge', cron: purgeCron }, defs.length, source));
    } catch (err) {
      throw new ConfigError(`${source}: daemon.purgeSchedule must be a cron expression such as "17 3 * * *": ${(err as Error).message.replace(/^.*?\(purge\): /, '')}`);
    }
  }
  return defs;
}

/** `fileRoots:` absolute folders; the spool and inbox folders are always among them. */
function readFileRoots(source: string, raw: unknown, always: string[]): string[] {
  if (raw === undefined || raw === null) return always;
  if (!Array.isArray(raw) || raw.some((r) => typeof r !== 'string' || !path.isAbsolute(r))) {
    throw new ConfigError(`${source}: fileRoots must be a list of absolute folder paths (got ${JSON.stringify(raw)})`);
  }
  return [...new Set([...always, ...(raw as string[])])];
}

/**
 * `metrics.listen`: "port" or "host:port". A bare port binds to 127.0.0.1: metrics tell queue sizes and job
 * names, so they are exposed beyond the machine only when the administrator writes a host.
 */
function parseListen(source: string, v: string | null, key = 'metrics.listen', example = '127.0.0.1:9187'): Config['metrics'] {
  if (v === null) return null;
  const m = /^(?:(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(String(v).trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) {
    throw new ConfigError(`${source}: ${key} must be a port or host:port such as ${example} (got ${JSON.stringify(v)})`);
  }
  return { host: (m[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port };
}

const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;

/**
 * XTCONNECT_LOG_LEVEL wins over log.level in the file (the environment overrides the file, as for every other
 * variable); a value winston does not know would silence every line, so it stops the program instead.
 */
function logLevelFromEnv(env: NodeJS.ProcessEnv): Config['log']['level'] | null {
  const v = env.XTCONNECT_LOG_LEVEL;
  if (v === undefined || v === '') return null;
  if (!(LOG_LEVELS as readonly string[]).includes(v)) {
    throw new ConfigError(`XTCONNECT_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(v)})`);
  }
  return v as Config['log']['level'];
}

/**
 * A connection string must be a postgres:// or postgresql:// URL (or pg's socket:/path form); anything else would
 * reach the driver, which turns it into a host name lookup that fails far from the mistake ("getaddrinfo
 * ENOTFOUND base"). The message names where the value came from, never the value (it may hold a password).
 */
function checkDatabaseUrl(source: string, [from, v]: [string, string | null]): string | null {
  if (v === null || v === undefined || v === '') return null;
  const where = from === 'database.url' ? `${source}: database.url` : from;
  let u: URL | null = null;
  try {
    u = new URL(v);
  } catch {
    u = null;
  }
  const ok = u !== null && (u.protocol === 'postgres:' || u.protocol === 'postgresql:' || (u.protocol === 'socket:' && u.pathname !== ''));
  if (!ok) {
    throw new ConfigError(`${where} must be a PostgreSQL connection URL such as postgresql://user@host:5432/dbname ` +
      '(for a Unix socket: postgresql:///dbname?host=/var/run/postgresql)');
  }
  return v;
}

function parsePort(source: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new ConfigError(`${source}: XTCONNECT_SMTP_PORT must be a port number from 1 to 65535 (got ${JSON.stringify(v)})`);
  }
  return n;
}

/** A connection string with its password replaced, for logs and messages. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)([^@]*)@/, '$1***@');
}
