import type { ReportFontFile } from '../reports/openrpt/fonts';
import type { ScheduleDef } from '../db/queries/schedules';
import type { EdiProfileOptions, Endpoint } from '../transfer/endpoints';
import type { Mailbox } from '../sync/mailboxes';
import type { SmtpTls } from '../mail/tlsConfig';

/** Every setting the daemon reads, as the program uses it (schema.ts describes the file; docs/configuration.md is generated from it). */
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
    /** Each report query runs with this statement timeout (in a transaction that is rolled back). */
    queryTimeoutSeconds: number;
    /** An administrator's fonts (`reports.fonts`): for faces, and fallbacks (docs/reports.md). */
    fonts?: ReportFontFile[];
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
