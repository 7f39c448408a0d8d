import { z } from 'zod';
import { absolutePath, bool, duration, folder, int, intMap, list, listen, oneOf, optionalInt, section, text, textDefault } from './fields';

/**
 * The whole config file, described once. Types, ranges, defaults and unknown keys are checked here, every
 * mistake at once; rules that join several keys or need the environment are in checks.ts. The generated
 * reference (docs/configuration.md) and the sample file (xtconnect.example.yaml) come from this schema.
 */

const NAME_RULE = { error: 'a name of letters, digits, "_", "-" or "."' };
const name = () => z.string({ error: NAME_RULE.error }).regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, NAME_RULE);

const database = section({
  url: text({ description: 'Connection string (postgres://user@host:5432/db). Leave unset to use the PG* variables, or the embedded PostgreSQL when none is set either.', env: 'DATABASE_URL', example: 'postgres://xtconnect@127.0.0.1:5432/xtuple' }),
  poolSize: int(2, 200, 10, { description: 'Connections the daemon keeps for claiming and writing outcomes (handlers have a pool of their own).' }),
  listen: bool(true, { description: 'Start jobs at once on NOTIFY; polling stays the safety net. Off behind PgBouncer in transaction mode without listenUrl.' }),
  listenUrl: text({ description: 'A direct connection string for LISTEN when url goes through PgBouncer in transaction mode.', env: 'XTCONNECT_LISTEN_URL' }),
  statementTimeoutMs: int(0, 86_400_000, 30_000, { description: 'Statement timeout of the daemon\'s own queries, in milliseconds (0: none).' }),
}, { description: 'The database holding xtbatch.batch.' });

const daemon = section({
  concurrency: int(1, 1000, 10, { description: 'Jobs run at once by this daemon; ERP actions that run together in one transaction count as one.' }),
  prefetch: int(0, 10_000, 500, { description: 'At most this many jobs claimed ahead of free slots (only as many as fast jobs need; none for slow ones).' }),
  actionConcurrency: intMap(1, 1000, { description: 'Per-action limits across all daemons, as action: number lines.', example: { RunReport: 2 } }),
  pollIntervalMs: int(100, 3_600_000, 5000, { description: 'How often the daemon looks for due jobs when no NOTIFY wakes it.' }),
  leaseSeconds: int(1, 86_400, 60, { description: 'How long a claimed job stays this daemon\'s without a renewal; renewed every third of it.' }),
  maxAttempts: int(1, 100, 5, { description: 'Attempts before a job fails for good (retries stop earlier when the retry period is over).' }),
  retryPeriod: duration(0, 30 * 86_400, 3600, { description: 'How long transient failures are retried, from the first; then the job fails with its error history (docs/reliability.md). Per action: retry.<action>.period.', example: '1h' }),
  backoffBaseSeconds: int(0, 86_400, 10, { description: 'First retry delay; doubled per attempt, with jitter.' }),
  backoffMaxSeconds: int(0, 7 * 86_400, 3600, { description: 'Longest retry delay (at least backoffBaseSeconds).' }),
  jobTimeoutSeconds: int(1, 7 * 86_400, 3600, { description: 'A job running longer is failed.' }),
  actionTimeoutSeconds: intMap(1, 7 * 86_400, { description: 'Per-action timeouts, as action: seconds lines.', example: { RunReport: 900 } }),
  drainTimeoutSeconds: int(0, 3600, 30, { description: 'On SIGTERM/SIGINT, how long running jobs may take to finish before they are put back.' }),
  maintenanceIntervalSeconds: int(1, 3600, 15, { description: 'How often expired leases are rescued and the heartbeat written.' }),
  schedulerIntervalSeconds: int(1, 3600, 30, { description: 'How often due occurrences of repeating series are inserted (this far ahead, twice).' }),
  purgeSchedule: textDefault('17 3 * * *', { description: 'Cron expression of the built-in nightly "purge" series, in the machine\'s time zone.' }),
}, { description: 'The claim loop.' });

const smtp = section({
  host: text({ description: 'SMTP server. Without one, mail is written to outboxDir as .eml files.', env: 'XTCONNECT_SMTP_HOST', example: 'mail.example.com' }),
  port: optionalInt(1, 65535, { description: 'Port (default 587).', env: 'XTCONNECT_SMTP_PORT' }, 'a port number'),
  security: oneOf(['tls', 'starttls', 'none'] as const, 'starttls', { description: '"tls" connects with TLS; "starttls" requires the upgrade; "none" sends in clear (loopback relays).', env: 'XTCONNECT_SMTP_SECURITY' }),
  user: text({ description: 'Login (with password; neither for an open relay).', env: 'XTCONNECT_SMTP_USER' }),
  password: text({ description: 'Password; better in the environment.', env: 'XTCONNECT_SMTP_PASSWORD', secret: true }),
  rejectUnauthorized: z.preprocess((v) => (v === null ? undefined : v), z.boolean({ error: 'true or false' }).optional())
    .meta({ description: 'Refuse servers whose certificate is not trusted (default true; also settable as tls.rejectUnauthorized).' }),
  tls: section({
    caPath: absolutePath({ description: 'PEM file of the CA (or the server\'s own self-signed certificate) to trust instead of the system\'s CAs (a private CA).' }),
    servername: text({ description: 'Name the certificate must carry when it differs from smtp.host (a relay reached by IP address).' }),
    minVersion: z.preprocess((v) => (v === null || v === '' ? undefined : v), z.enum(['TLSv1.2', 'TLSv1.3'], { error: 'one of TLSv1.2, TLSv1.3' }).optional())
      .meta({ description: 'Oldest TLS version accepted (default Node\'s, TLSv1.2).' }),
    rejectUnauthorized: z.preprocess((v) => (v === null ? undefined : v), z.boolean({ error: 'true or false' }).optional())
      .meta({ description: 'Same as smtp.rejectUnauthorized; the two must agree.' }),
  }, { description: 'How the SMTP server\'s certificate is checked.' }),
  maxConnections: int(1, 100, 5, { description: 'Pooled connections to the server.' }),
  connectionTimeoutMs: int(100, 600_000, 30_000, { description: 'Connect and greeting timeout.' }),
}, { description: 'Outgoing mail (Email jobs, report deliveries, notices).' });

const reportFont = z.strictObject({
  face: text({ description: 'The OpenRPT face this font draws (Arial, Times New Roman, …); leave out for a fallback font.' }),
  file: absolutePath({ description: 'A .ttf, .otf, .ttc or .otc file.' }),
  name: text({ description: 'In a .ttc/.otc collection: the PostScript name of the font to use (default: its first).' }),
  bold: z.preprocess((v) => (v === null ? undefined : v), z.boolean({ error: 'true or false' }).optional()).meta({ description: 'Only for bold (true) or only for regular weight (false).' }),
  italic: z.preprocess((v) => (v === null ? undefined : v), z.boolean({ error: 'true or false' }).optional()).meta({ description: 'Only for italic (true) or only for upright (false).' }),
}, { error: 'a font entry (face, file, name, bold, italic)' });

const reports = section({
  outputDir: text({ description: 'Where report output goes for a folder delivery that names none (default dataDir/reports); also a file root.' }),
  queryTimeoutSeconds: int(1, 86_400, 300, { description: 'Statement timeout of each report query.' }),
  fonts: list(reportFont, {
    description: 'Fonts for report faces, and fallbacks (no face) for characters the built-in DejaVu fonts lack: CJK, Arabic, … (docs/reports.md).',
    example: [{ file: '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc', name: 'NotoSansCJKjp-Regular' }],
  }),
}, { description: 'RunReport jobs.' });

const metrics = section({
  listen: listen({ description: 'Serve /metrics, /healthz and /readyz on "port" (loopback) or "host:port". Off when unset.', env: 'XTCONNECT_METRICS_LISTEN', example: '127.0.0.1:9187' }),
}, { description: 'Prometheus metrics and health endpoints.' });

const consoleSection = section({
  listen: listen({ description: 'Serve the web console on "port" (loopback) or "host:port" (docs/console.md). Off when unset.', env: 'XTCONNECT_CONSOLE_LISTEN', example: '127.0.0.1:8080' }),
  allowPasswordlessLogin: bool(false, { description: 'Accept console logins the database lets in without a password (trust authentication).' }),
  loginAttemptsPerMinute: int(1, 100_000, 10, { description: 'Login attempts allowed per client address per minute.' }),
}, { description: 'The web console.' });

const retryRule = z.strictObject({
  period: duration(0, 30 * 86_400, undefined, { description: 'How long this action\'s transient failures are retried.' }),
  maxAttempts: optionalInt(0, 1_000_000, { description: 'Attempt limit of this action (0: none).' }),
}, { error: 'a section (period, maxAttempts)' });

const ediProfile = z.strictObject({
  tls: z.preprocess((v) => (v === null ? undefined : v), section({
    caPath: absolutePath({ description: 'PEM file of the CA to trust for this profile\'s FTPS server.' }),
    servername: text({ description: 'Name the certificate must carry when it differs from the host.' }),
  }, { description: 'TLS of the profile\'s FTPS server.' }).optional()),
  timeoutMs: optionalInt(1000, 600_000, { description: 'Connect, reply and idle-transfer timeout.' }),
}, { error: 'a section (tls, timeoutMs)' });

const log = section({
  level: oneOf(['error', 'warn', 'info', 'debug'] as const, 'info', { description: 'Lowest level written.', env: 'XTCONNECT_LOG_LEVEL' }),
  format: oneOf(['text', 'json'] as const, 'text', { description: '"text" for the journal, "json" for log shippers.' }),
  file: absolutePath({ description: 'A file to log to as well as stderr (which the journal reads); rotated by size.' }),
  maxSizeMb: int(1, 100_000, 50, { description: 'Rotate the log file at this size.' }),
  maxFiles: int(1, 1000, 5, { description: 'Rotated log files kept.' }),
}, { description: 'Logging.' });

const status = section({
  maxFailures24h: int(1, 1_000_000, 10, { description: 'Failures in the last 24 h at or above this make `status` unhealthy.' }),
  maxQueueAgeSeconds: int(1, 30 * 86_400, 900, { description: 'A due job waiting longer than this makes `status` unhealthy.' }),
  daemonStaleSeconds: int(5, 86_400, 60, { description: 'A daemon whose heartbeat is older than this is not alive.' }),
}, { description: 'Thresholds of `xtconnect status`.' });

const tlsMailbox = section({
  caPath: absolutePath({ description: 'PEM file of the CA (or the server\'s self-signed certificate) to trust instead of the system\'s.' }),
  rejectUnauthorized: bool(true, { description: 'Refuse servers whose certificate is not trusted.' }),
  servername: text({ description: 'Name the certificate must carry when it differs from host.' }),
}, { description: 'TLS of the IMAP connection.' });

const mailbox = z.strictObject({
  name: name().meta({ description: 'Jobs pick the mailbox by this name.' }),
  host: text({ description: 'IMAP server.' }),
  port: optionalInt(1, 65535, { description: 'Default 993 with tls, 143 otherwise.' }),
  security: oneOf(['tls', 'starttls', 'none'] as const, 'tls', { description: 'Connection security.' }),
  user: text({ description: 'Login.' }),
  password: text({ description: 'Password; better in XTCONNECT_MAILBOX_<NAME>_PASSWORD.', secret: true }),
  accessToken: text({ description: 'OAuth2 access token; better in XTCONNECT_MAILBOX_<NAME>_ACCESSTOKEN.', secret: true }),
  folders: z.preprocess((v) => (typeof v === 'string' ? [v] : v === null ? undefined : v),
    z.array(z.string({ error: 'a folder name' }).trim().min(1, { error: 'a folder name' }), { error: 'a list of folder names such as [INBOX, Support]' })
      .min(1, { error: 'a list of folder names such as [INBOX, Support]' }).optional()).meta({ description: 'Folders read in order (default INBOX).' }),
  address: text({ description: 'The mailbox\'s own address, never made a contact (default: user when it is an address).' }),
  afterImport: oneOf(['none', 'move', 'flag'] as const, 'none', { description: 'What happens to imported messages on the server.' }),
  moveTo: text({ description: 'With afterImport: move, the folder imported messages go to.' }),
  flag: text({ description: 'With afterImport: flag, the flag or keyword set (default $XtImported).' }),
  tls: tlsMailbox,
  timeoutMs: int(1000, 600_000, 60_000, { description: 'Connect, greeting and idle-socket timeout.' }),
  batchSize: int(1, 1000, 100, { description: 'Messages fetched per round trip.' }),
}, { error: 'a section (name, host, user, password, ...)' });

const endpointTls = section({
  caPath: absolutePath({ description: 'PEM file of the CA (or the server\'s own certificate) to trust instead of the system\'s.' }),
  servername: text({ description: 'Name the certificate must carry when it differs from host.' }),
}, { description: 'TLS of ftps and ftps-implicit endpoints.' });

const hostKey = section({
  // Checked with the endpoint (config/endpoints.ts), which names a bad one by its place in a list.
  fingerprint: z.unknown().optional().meta({ description: 'Accepted SHA-256 host key fingerprints as "ssh-keygen -lf" prints them (one or a list).' }),
  knownHostsPath: absolutePath({ description: 'An OpenSSH known_hosts file.' }),
}, { description: 'How an SFTP server proves who it is (required for sftp).' });

const endpoint = z.strictObject({
  name: name().meta({ description: 'Jobs name the endpoint by this.' }),
  protocol: z.enum(['ftp', 'ftps', 'ftps-implicit', 'sftp'], { error: 'one of ftp, ftps, ftps-implicit, sftp' }).meta({ description: 'Transfer protocol.' }),
  host: text({ description: 'Server.' }),
  port: optionalInt(1, 65535, { description: 'Default 21, 990 for ftps-implicit, 22 for sftp.' }),
  user: text({ description: 'Login.' }),
  // An explicit empty password is a real one (anonymous FTP), so '' is kept here.
  password: z.preprocess((v) => (v === null ? undefined : v), z.string({ error: 'text' }).optional())
    .meta({ description: 'Password; better in XTCONNECT_ENDPOINT_<NAME>_PASSWORD.', secret: true }),
  privateKeyPath: absolutePath({ description: 'sftp: an OpenSSH or PEM private key file.' }),
  passphrase: text({ description: 'sftp: the key\'s passphrase; better in XTCONNECT_ENDPOINT_<NAME>_PASSPHRASE.', secret: true }),
  remoteDir: text({ description: 'Folder on the server (default: the login folder).' }),
  hostKey: z.preprocess((v) => (v === null ? undefined : v), hostKey.optional()),
  tls: z.preprocess((v) => (v === null ? undefined : v), endpointTls.optional()),
  timeoutMs: int(1000, 600_000, 30_000, { description: 'Connect, reply and idle-transfer timeout.' }),
}, { error: 'a section (name, protocol, host, user, ...)' });

const scheduleText = () => z.preprocess((v) => (v === null ? undefined : typeof v === 'number' ? String(v) : v), z.string({ error: 'text' }).optional());

const schedule = z.strictObject({
  name: z.string({ error: NAME_RULE.error }).regex(/^[A-Za-z0-9_.-]{1,100}$/, NAME_RULE).meta({ description: 'Series name.' }),
  // Required; checked with the entry (schedule/fromConfig.ts), which says what to write.
  action: scheduleText().meta({ description: 'batch_action of each occurrence (required).' }),
  cron: scheduleText().meta({ description: 'Cron expression (one of cron and every).' }),
  every: scheduleText().meta({ description: 'Interval such as 15m, 2h, 1d (one of cron and every).' }),
  timezone: scheduleText().meta({ description: 'IANA zone (default: the machine\'s).' }),
  start: z.unknown().optional().meta({ description: 'First possible occurrence (date and time).' }),
  end: z.unknown().optional().meta({ description: 'No occurrence after this.' }),
  count: optionalInt(1, 1_000_000_000, { description: 'At most this many occurrences.' }),
  missed: oneOf(['once', 'all', 'skip'] as const, 'once', { description: 'What to do with occurrences missed while no daemon ran.' }),
  missedMax: optionalInt(1, 1000, { description: 'With missed: all, at most this many.' }),
  params: z.unknown().optional().meta({ description: 'Job parameters as name: value lines.' }),
  parameter: scheduleText(), email: scheduleText(), cc: scheduleText(), bcc: scheduleText(), replyTo: scheduleText(),
  from: scheduleText(), subject: scheduleText(), body: scheduleText(), filename: scheduleText(),
  html: z.unknown().optional(),
  priority: optionalInt(-32768, 32767, { description: 'Claim priority.' }),
  timeoutSeconds: optionalInt(1, 7 * 86_400, { description: 'Timeout of each occurrence.' }),
  maxAttempts: optionalInt(1, 100, { description: 'Attempts of each occurrence.' }),
}, { error: 'a section (name, action, cron or every, ...)' });

export const configSchema = z.strictObject({
  database,
  dataDir: folder({ description: 'Folder for the embedded database, outbox, spool and inbox (default ~/.local/state/xtconnect, /var/lib/xtconnect as root, $STATE_DIRECTORY under systemd).' }),
  outboxDir: folder({ description: 'Where mail goes as .eml files when no SMTP server is set (default dataDir/outbox).' }),
  spoolDir: folder({ description: 'Where jobs write files they produce (default dataDir/spool).' }),
  inboxDir: folder({ description: 'Where FileDownload puts files when the job names no inbox (default dataDir/inbox).' }),
  fileRoots: z.preprocess((v) => (v === null ? undefined : v),
    z.array(z.string().refine((p) => p.startsWith('/'), { error: 'an absolute folder path' }), { error: 'a list of absolute folder paths' }).optional())
    .meta({ description: 'The only folders whose files a job may read or write (attachments, uploads, download inboxes), besides spoolDir, inboxDir and reports.outputDir. Real paths are checked, so links cannot lead out.', example: ['/srv/erp-exports'] }),
  endpoints: list(endpoint, {
    description: 'Places FileUpload/FileDownload jobs and report deliveries name. xTuple\'s FTP EDI profiles are endpoints too; an entry here of the same name wins. SFTP endpoints must pin the server\'s key.',
    example: [{ name: 'acme-edi', protocol: 'sftp', host: 'sftp.acme.example', user: 'xtuple', privateKeyPath: '/etc/xtconnect/keys/acme_ed25519',
      remoteDir: 'outbound', hostKey: { fingerprint: 'SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8' } }],
  }),
  ediProfiles: z.preprocess((v) => (v === null || v === undefined ? {} : v), z.record(z.string(), ediProfile, { error: 'a section with one entry per EDI profile name (ACME: { tls: { caPath: ... } })' }))
    .meta({ description: 'Settings for xTuple\'s FTP EDI profiles (xtbatch.ediprofile) by profile name: a profile row has no room for a CA.', example: { ACME: { tls: { caPath: '/etc/xtconnect/acme-ca.pem' } } } }),
  retry: z.preprocess((v) => (v === null || v === undefined ? {} : v), z.record(z.string(), retryRule, { error: 'a section of action: { period, maxAttempts } lines' }))
    .meta({ description: 'Retry rules by action over daemon.retryPeriod and daemon.maxAttempts. Email retries for 48 hours with no attempt limit, as a mail server does, unless set here.', example: { Email: { period: '48h', maxAttempts: 0 }, RunReport: { period: '2h' } } }),
  daemon,
  schedules: list(schedule, {
    description: 'Repeating series the daemon owns (plus the built-in nightly purge); removed from the database when removed here.',
    example: [{ name: 'nightly-maintenance', action: 'ServerMaintenance', cron: '30 2 * * *', timezone: 'America/New_York', missed: 'once' },
      { name: 'sales-inbox', action: 'EmailSync', every: '5m', parameter: 'sales' }],
  }),
  smtp,
  reports,
  metrics,
  console: consoleSection,
  log,
  status,
  // Last, so that the sample file ends with its commented example entries.
  mailboxes: list(mailbox, {
    description: 'IMAP mailboxes the EmailSync action imports into the ERP (jobs name a mailbox by its name).',
    example: [
      { name: 'sales', host: 'imap.example.com', user: 'sales@example.com', folders: ['INBOX'], afterImport: 'move', moveTo: 'Imported' },
      { name: 'support', host: 'outlook.office365.com', user: 'support@example.com', afterImport: 'flag' },
    ],
  }),
}, { error: 'sections of key: value lines' });

/** Parts of the file that are also checked on their own (tests and benchmarks build them without a file). */
export const parts = { mailboxes: configSchema.shape.mailboxes, endpoints: configSchema.shape.endpoints, ediProfiles: configSchema.shape.ediProfiles };

export type ConfigInput = z.input<typeof configSchema>;
export type ConfigFile = z.output<typeof configSchema>;
export type MailboxEntry = z.output<typeof mailbox>;
export type EndpointEntry = z.output<typeof endpoint>;
