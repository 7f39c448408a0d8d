import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors';
import { redactSecrets } from '../secrets';
import { checkFontFile, type ReportFontFile } from '../reports/openrpt/fonts';
import type { ScheduleDef } from '../db/queries/schedules';
import { scheduleFromConfig } from '../schedule/fromConfig';
import { Problems } from './collect';
import { buildEndpoints } from './endpoints';
import { overlayEnvironment } from './environment';
import { registerConfigSecrets } from './registerSecrets';
import { isHostName, parseListen } from './fields';
import { buildMailboxes } from './mailboxes';
import { describeIssue, type Path } from './problems';
import { configSchema, parts, type ConfigFile } from './schema';
import type { Config } from './types';

export const DEFAULT_CONFIG_PATH = '/etc/xtconnect/xtconnect.yaml';

export interface ConfigFlags {
  config?: string;
  databaseUrl?: string;
}

type Raw = Record<string, unknown>;

function defaultDataDir(env: NodeJS.ProcessEnv): string {
  if (env.STATE_DIRECTORY) return env.STATE_DIRECTORY.split(':')[0]!; // systemd StateDirectory=
  // root's home is closed to other users, and the embedded PostgreSQL runs as one ('postgres').
  if (typeof process.getuid === 'function' && process.getuid() === 0 && !env.XDG_STATE_HOME) return '/var/lib/xtconnect';
  const base = env.XDG_STATE_HOME || path.join(env.HOME || os.homedir(), '.local', 'state');
  return path.join(base, 'xtconnect');
}

/** `from`: where the file's name came from (--config or $XTCONNECT_CONFIG), null for the default path. */
function readFile(file: string, from: string | null): { raw: Raw; source: string } {
  if (!fs.existsSync(file)) {
    if (from) throw new ConfigError(`config file ${file} does not exist; fix ${from} or create it from xtconnect.example.yaml (cp xtconnect.example.yaml ${file})`);
    return { raw: {}, source: 'defaults' };
  }
  let parsed: unknown;
  try {
    parsed = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    // The parser quotes the offending lines after "line L, column C:"; they may hold a password, so only the
    // place is said.
    const said = (err as Error).message.split(/:\s*\n/)[0]!.trim();
    throw new ConfigError(`config file ${file} is not valid YAML: ${said}`);
  }
  if (parsed === null || parsed === undefined) return { raw: {}, source: file };
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${file} must hold sections of key: value lines`);
  }
  return { raw: parsed as Raw, source: file };
}

/** The keys the schema knows at a path, for "unknown key" messages. */
function knownKeysAt(p: Path): string[] {
  let s: z.ZodType = configSchema;
  for (const step of p) {
    s = unwrap(s);
    if (s instanceof z.ZodArray) s = s.element as z.ZodType;
    else if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodType>)[String(step)] ?? z.never();
    if (typeof step === 'number' && !(s instanceof z.ZodArray)) continue;
  }
  s = unwrap(s);
  if (s instanceof z.ZodArray) s = unwrap(s.element as z.ZodType);
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

function unwrap(s: z.ZodType): z.ZodType {
  for (;;) {
    if (s instanceof z.ZodPipe) s = s.out as z.ZodType;
    else if (s instanceof z.ZodOptional || s instanceof z.ZodDefault || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodType;
    else return s;
  }
}

/** DATABASE_URL and database.url: a postgres:// URL (pg would try to resolve "base" from "::not a url::"). */
function checkDatabaseUrl(url: string | undefined, from: string, problems: Problems): void {
  if (url === undefined) return;
  let u: URL | null = null;
  try {
    u = new URL(url);
  } catch {
    u = null;
  }
  const ok = u !== null && (u.protocol === 'postgres:' || u.protocol === 'postgresql:' || (u.protocol === 'socket:' && u.pathname !== ''));
  // The value is not shown: it may hold a password.
  if (!ok) {
    problems.add(`${from} must be a PostgreSQL connection URL such as postgresql://user@host:5432/dbname ` +
      '(for a Unix socket: postgresql:///dbname?host=/var/run/postgresql)');
  }
}

/**
 * Builds the config from the file, then the environment (DATABASE_URL, PG*, XTCONNECT_SMTP_PASSWORD, ...), then
 * flags. Every mistake is collected; ConfigError lists them all, each naming its key or variable.
 */
export function loadConfig(flags: ConfigFlags = {}, env: NodeJS.ProcessEnv = process.env): Config {
  // An empty --config is a mistake; an empty variable counts as unset, as for every variable here.
  if (flags.config !== undefined && flags.config.trim() === '') throw new ConfigError('--config is empty: give the config file\'s path, or leave the option out');
  const fromEnv = env.XTCONNECT_CONFIG?.trim() ? env.XTCONNECT_CONFIG : undefined;
  const file = flags.config ?? fromEnv ?? DEFAULT_CONFIG_PATH;
  const { raw, source } = readFile(file, flags.config ? '--config' : fromEnv ? '$XTCONNECT_CONFIG' : null);
  const overlaid = overlayEnvironment(raw, env, [{ flag: '--database-url', path: ['database', 'url'], value: flags.databaseUrl }]);
  const parsed = configSchema.safeParse(overlaid.raw, { reportInput: true });
  const problems = new Problems();
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.add(describeIssue(issue, overlaid.envAt, knownKeysAt));
    throw tooMany(source, problems);
  }
  const cfg = build(parsed.data, source, env, problems, overlaid.envAt(['database', 'url']) ?? 'database.url');
  if (problems.list.length) throw tooMany(source, problems);
  registerConfigSecrets(cfg, env);
  return cfg;
}

function tooMany(source: string, problems: Problems): ConfigError {
  const list = problems.list.map((p) => p.replace(new RegExp(`^${source.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `), ''));
  // A mistake in an environment variable or a flag is not the file's: it is named on its own.
  if (list.length === 1) return new ConfigError(/^([A-Z][A-Z0-9_]+|--[a-z-]+) /.test(list[0]!) ? list[0]! : `${source}: ${list[0]}`);
  return new ConfigError(`${source}: ${list.length} mistakes:\n${list.map((p) => `  - ${p}`).join('\n')}`);
}

function build(f: ConfigFile, source: string, env: NodeJS.ProcessEnv, problems: Problems, urlFrom: string): Config {
  const url = f.database.url ?? null;
  checkDatabaseUrl(f.database.url, urlFrom, problems);
  // pg reads the PG* variables itself; any of them means the administrator pointed us at a server.
  const pgEnv = ['PGHOST', 'PGDATABASE', 'PGPORT', 'PGUSER', 'PGSERVICE'].some((k) => env[k]);
  // pg reads PGPORT itself and, given "abc", throws where no caller can catch it (the command then ended silently).
  if (env.PGPORT !== undefined && env.PGPORT !== '' && !(/^\d{1,5}$/.test(env.PGPORT.trim()) && Number(env.PGPORT) >= 1 && Number(env.PGPORT) <= 65535)) {
    problems.add(`PGPORT must be a port number from 1 to 65535 (got ${JSON.stringify(env.PGPORT)})`);
  }
  const dataDir = f.dataDir ?? defaultDataDir(env);
  const smtp = f.smtp;
  const smtpTls = smtp.tls;
  if (smtp.rejectUnauthorized !== undefined && smtpTls.rejectUnauthorized !== undefined && smtp.rejectUnauthorized !== smtpTls.rejectUnauthorized) {
    problems.add('smtp.rejectUnauthorized and smtp.tls.rejectUnauthorized disagree; keep one of them');
  }
  if (smtp.host && !isHostName(smtp.host)) {
    problems.add(`smtp.host must be a host name or IP address (no scheme, user or path; the port goes in smtp.port) (got ${JSON.stringify(redactSecrets(smtp.host))})`);
  }
  if (smtp.host && (smtp.user === undefined) !== (smtp.password === undefined)) {
    problems.add('smtp.user and smtp.password go together (set both, or neither for an open relay)');
  }
  if (f.daemon.backoffMaxSeconds < f.daemon.backoffBaseSeconds) {
    problems.add('daemon.backoffMaxSeconds must be at least daemon.backoffBaseSeconds');
  }
  const reportsDir = f.reports.outputDir ?? path.join(dataDir, 'reports');
  const spoolDir = f.spoolDir ?? path.join(dataDir, 'spool');
  const inboxDir = f.inboxDir ?? path.join(dataDir, 'inbox');
  return {
    source,
    database: {
      url,
      embedded: !url && !pgEnv,
      poolSize: f.database.poolSize,
      listen: f.database.listen,
      listenUrl: f.database.listenUrl ?? null,
      statementTimeoutMs: f.database.statementTimeoutMs,
    },
    dataDir,
    outboxDir: f.outboxDir ?? path.join(dataDir, 'outbox'),
    spoolDir,
    inboxDir,
    endpoints: buildEndpoints(f.endpoints, source, env, problems),
    ediProfiles: buildEdiProfiles(f.ediProfiles),
    retry: buildRetry(f.retry),
    fileRoots: [...new Set([spoolDir, inboxDir, reportsDir, ...(f.fileRoots ?? [])])],
    daemon: (({ retryPeriod, ...rest }) => ({ ...rest, retryPeriodSeconds: retryPeriod }))(f.daemon),
    schedules: buildSchedules(f.schedules as unknown[], f.daemon.purgeSchedule, source, problems),
    smtp: smtp.host
      ? {
          host: smtp.host,
          port: smtp.port ?? 587,
          security: smtp.security,
          user: smtp.user ?? null,
          password: smtp.password ?? null,
          rejectUnauthorized: smtp.rejectUnauthorized ?? smtpTls.rejectUnauthorized ?? true,
          tls: { caPath: smtpTls.caPath ?? null, servername: smtpTls.servername ?? null, minVersion: smtpTls.minVersion ?? null },
          maxConnections: smtp.maxConnections,
          connectionTimeoutMs: smtp.connectionTimeoutMs,
        }
      : null,
    mailboxes: buildMailboxes(f.mailboxes, env, problems),
    reports: { outputDir: reportsDir, queryTimeoutSeconds: f.reports.queryTimeoutSeconds, fonts: reportFonts(f.reports.fonts, problems) },
    metrics: parseListen(f.metrics.listen),
    console: {
      listen: parseListen(f.console.listen),
      allowPasswordlessLogin: f.console.allowPasswordlessLogin,
      loginAttemptsPerMinute: f.console.loginAttemptsPerMinute,
    },
    log: {
      level: f.log.level,
      format: f.log.format,
      file: f.log.file ?? null,
      maxSizeMb: f.log.maxSizeMb,
      maxFiles: f.log.maxFiles,
    },
    status: { ...f.status },
  };
}

/**
 * `retry:` rules by action, over daemon.retryPeriod and daemon.maxAttempts. Email retries for 48 hours with no
 * attempt limit, as a mail server does, unless the file says otherwise.
 */
function buildRetry(raw: ConfigFile['retry']): NonNullable<Config['retry']> {
  const out: NonNullable<Config['retry']> = { Email: { periodSeconds: 48 * 3600, maxAttempts: 0 } };
  for (const [action, r] of Object.entries(raw)) {
    const rule = { ...out[action] };
    if (r.period !== undefined) rule.periodSeconds = r.period;
    if (r.maxAttempts !== undefined) rule.maxAttempts = r.maxAttempts;
    out[action] = rule;
  }
  return out;
}

/**
 * The `schedules:` list, plus the built-in "purge" series (daily at daemon.purgeSchedule) unless the list has its
 * own entry named "purge".
 */
function buildSchedules(entries: unknown[], purgeCron: string, source: string, problems: Problems): ScheduleDef[] {
  const defs: ScheduleDef[] = [];
  const names = new Map<string, number>();
  entries.forEach((e, i) => {
    const def = problems.guard(() => scheduleFromConfig(e, i, source));
    if (!def) return;
    const first = names.get(def.name!);
    if (first !== undefined) problems.add(`schedules[${i}].name "${def.name}" is used twice (also schedules[${first}])`);
    names.set(def.name!, i);
    defs.push(def);
  });
  if (!names.has('purge')) {
    try {
      defs.push(scheduleFromConfig({ name: 'purge', action: 'Purge', cron: purgeCron }, defs.length, source));
    } catch (err) {
      problems.add(`daemon.purgeSchedule must be a cron expression such as "17 3 * * *": ${(err as Error).message.replace(/^.*?\(purge\): /, '')}`);
    }
  }
  return defs;
}

/**
 * One part of the file checked on its own, with the same schema and rules as in a whole file: `mailboxes:`,
 * `endpoints:` or `ediProfiles:` as a test, a benchmark or the console builds them.
 */
export function checkPart<K extends keyof typeof parts>(key: K, raw: unknown, source: string, env: NodeJS.ProcessEnv = process.env): Config[K extends 'ediProfiles' ? 'ediProfiles' : K] {
  const problems = new Problems();
  const parsed = parts[key].safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.add(describeIssue({ ...issue, path: [key, ...issue.path] } as typeof issue, () => undefined, (p) => knownKeysAt(p)));
    throw tooMany(source, problems);
  }
  let out: unknown;
  if (key === 'mailboxes') out = buildMailboxes(parsed.data as ConfigFile['mailboxes'], env, problems);
  else if (key === 'endpoints') out = buildEndpoints(parsed.data as ConfigFile['endpoints'], source, env, problems);
  else out = buildEdiProfiles(parsed.data as ConfigFile['ediProfiles']);
  if (problems.list.length) throw tooMany(source, problems);
  return out as never;
}

function buildEdiProfiles(raw: ConfigFile['ediProfiles']): NonNullable<Config['ediProfiles']> {
  return Object.fromEntries(Object.entries(raw).map(([name, p]) => [name, {
    tls: { caPath: p.tls?.caPath ?? null, servername: p.tls?.servername ?? null },
    timeoutMs: p.timeoutMs ?? null,
  }]));
}

/** `reports.fonts`: each entry a readable font file (checked here, so a wrong path stops the start, not a report). */
function reportFonts(entries: ReadonlyArray<{ face?: string; file?: string; name?: string; bold?: boolean; italic?: boolean }>, problems: Problems): ReportFontFile[] {
  const out: ReportFontFile[] = [];
  entries.forEach((e, i) => {
    const where = `reports.fonts[${i}]`;
    if (!e.file) {
      problems.add(`${where}.file is missing: the font file's absolute path`);
      return;
    }
    const font: ReportFontFile = { face: e.face ?? null, file: e.file, name: e.name, bold: e.bold, italic: e.italic };
    const problem = checkFontFile(font, where);
    if (problem) problems.add(problem);
    else out.push(font);
  });
  return out;
}
