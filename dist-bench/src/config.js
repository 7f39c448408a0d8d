"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.DEFAULT_CONFIG_PATH = void 0;
exports.loadConfig = loadConfig;
exports.redactUrl = redactUrl;
const node_fs_1 = __importDefault(require("node:fs"));
const node_os_1 = __importDefault(require("node:os"));
const node_path_1 = __importDefault(require("node:path"));
const yaml_1 = __importDefault(require("yaml"));
const node_cron_1 = require("node-cron");
const errors_1 = require("./errors");
exports.DEFAULT_CONFIG_PATH = '/etc/xtconnect/xtconnect.yaml';
function defaultDataDir(env) {
    if (env.STATE_DIRECTORY)
        return env.STATE_DIRECTORY.split(':')[0]; // systemd StateDirectory=
    const base = env.XDG_STATE_HOME || node_path_1.default.join(env.HOME || node_os_1.default.homedir(), '.local', 'state');
    return node_path_1.default.join(base, 'xtconnect');
}
/** Reads one typed value out of the parsed file, with a message that names the key when it is wrong. */
class Reader {
    source;
    constructor(source) {
        this.source = source;
    }
    fail(key, want, got) {
        throw new errors_1.ConfigError(`${this.source}: ${key} must be ${want} (got ${JSON.stringify(got)})`);
    }
    section(raw, key, prefix) {
        const v = raw[key];
        if (v === undefined || v === null)
            return {};
        if (typeof v !== 'object' || Array.isArray(v))
            this.fail(prefix + key, 'a section of key: value lines', v);
        return v;
    }
    int(raw, key, prefix, dflt, min, max) {
        const v = raw[key];
        if (v === undefined || v === null)
            return dflt;
        if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
            this.fail(prefix + key, `a whole number from ${min} to ${max}`, v);
        }
        return v;
    }
    bool(raw, key, prefix, dflt) {
        const v = raw[key];
        if (v === undefined || v === null)
            return dflt;
        if (typeof v !== 'boolean')
            this.fail(prefix + key, 'true or false', v);
        return v;
    }
    str(raw, key, prefix, dflt) {
        const v = raw[key];
        if (v === undefined || v === null || v === '')
            return dflt;
        if (typeof v !== 'string')
            this.fail(prefix + key, 'text', v);
        return v;
    }
    oneOf(raw, key, prefix, dflt, allowed) {
        const v = raw[key];
        if (v === undefined || v === null)
            return dflt;
        if (typeof v !== 'string' || !allowed.includes(v))
            this.fail(prefix + key, `one of ${allowed.join(', ')}`, v);
        return v;
    }
    intMap(raw, key, prefix, min, max) {
        const section = this.section(raw, key, prefix);
        const out = {};
        for (const name of Object.keys(section))
            out[name] = this.int(section, name, `${prefix}${key}.`, 0, min, max);
        return out;
    }
}
const KNOWN = {
    '': ['database', 'dataDir', 'outboxDir', 'spoolDir', 'daemon', 'smtp', 'log', 'status'],
    database: ['url', 'poolSize', 'listen', 'listenUrl', 'statementTimeoutMs'],
    daemon: ['concurrency', 'actionConcurrency', 'pollIntervalMs', 'leaseSeconds', 'maxAttempts', 'backoffBaseSeconds',
        'backoffMaxSeconds', 'jobTimeoutSeconds', 'actionTimeoutSeconds', 'drainTimeoutSeconds',
        'maintenanceIntervalSeconds', 'purgeSchedule'],
    smtp: ['host', 'port', 'security', 'user', 'password', 'rejectUnauthorized', 'maxConnections', 'connectionTimeoutMs'],
    log: ['level', 'format'],
    status: ['maxFailures24h', 'maxQueueAgeSeconds', 'daemonStaleSeconds'],
};
/** A misspelt key is an error, not a silently ignored line: the administrator meant something by it. */
function rejectUnknownKeys(source, raw) {
    for (const [section, keys] of Object.entries(KNOWN)) {
        const obj = section === '' ? raw : raw[section];
        if (!obj || typeof obj !== 'object' || Array.isArray(obj))
            continue;
        for (const k of Object.keys(obj)) {
            if (!keys.includes(k)) {
                const where = section ? `${section}.${k}` : k;
                throw new errors_1.ConfigError(`${source}: unknown key "${where}" (known keys here: ${keys.join(', ')})`);
            }
        }
    }
}
function readFile(file, explicit) {
    if (!node_fs_1.default.existsSync(file)) {
        if (explicit)
            throw new errors_1.ConfigError(`config file ${file} does not exist; fix --config or create it from xtconnect.example.yaml`);
        return { raw: {}, source: 'defaults' };
    }
    let parsed;
    try {
        parsed = yaml_1.default.parse(node_fs_1.default.readFileSync(file, 'utf8'));
    }
    catch (err) {
        throw new errors_1.ConfigError(`config file ${file} is not valid YAML: ${err.message}`);
    }
    if (parsed === null || parsed === undefined)
        return { raw: {}, source: file };
    if (typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new errors_1.ConfigError(`config file ${file} must hold sections of key: value lines`);
    }
    return { raw: parsed, source: file };
}
/**
 * Builds the config from the file, then the environment (DATABASE_URL, PG*, XTCONNECT_SMTP_PASSWORD, ...), then
 * flags. Throws ConfigError naming the key when a value is wrong.
 */
function loadConfig(flags = {}, env = process.env) {
    const file = flags.config ?? env.XTCONNECT_CONFIG ?? exports.DEFAULT_CONFIG_PATH;
    const { raw, source } = readFile(file, Boolean(flags.config ?? env.XTCONNECT_CONFIG));
    rejectUnknownKeys(source, raw);
    const r = new Reader(source);
    const db = r.section(raw, 'database', '');
    const daemon = r.section(raw, 'daemon', '');
    const smtp = r.section(raw, 'smtp', '');
    const log = r.section(raw, 'log', '');
    const status = r.section(raw, 'status', '');
    const url = flags.databaseUrl ?? env.DATABASE_URL ?? r.str(db, 'url', 'database.', null);
    // pg reads the PG* variables itself; any of them means the administrator pointed us at a server.
    const pgEnv = ['PGHOST', 'PGDATABASE', 'PGPORT', 'PGUSER', 'PGSERVICE'].some((k) => env[k]);
    const dataDir = r.str(raw, 'dataDir', '', null) ?? defaultDataDir(env);
    const smtpHost = env.XTCONNECT_SMTP_HOST ?? r.str(smtp, 'host', 'smtp.', null);
    const cfg = {
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
        outboxDir: r.str(raw, 'outboxDir', '', null) ?? node_path_1.default.join(dataDir, 'outbox'),
        spoolDir: r.str(raw, 'spoolDir', '', null) ?? node_path_1.default.join(dataDir, 'spool'),
        daemon: {
            concurrency: r.int(daemon, 'concurrency', 'daemon.', 10, 1, 1000),
            actionConcurrency: r.intMap(daemon, 'actionConcurrency', 'daemon.', 1, 1000),
            pollIntervalMs: r.int(daemon, 'pollIntervalMs', 'daemon.', 3000, 100, 3_600_000),
            leaseSeconds: r.int(daemon, 'leaseSeconds', 'daemon.', 60, 1, 86_400),
            maxAttempts: r.int(daemon, 'maxAttempts', 'daemon.', 5, 1, 100),
            backoffBaseSeconds: r.int(daemon, 'backoffBaseSeconds', 'daemon.', 10, 0, 86_400),
            backoffMaxSeconds: r.int(daemon, 'backoffMaxSeconds', 'daemon.', 3600, 0, 7 * 86_400),
            jobTimeoutSeconds: r.int(daemon, 'jobTimeoutSeconds', 'daemon.', 3600, 1, 7 * 86_400),
            actionTimeoutSeconds: r.intMap(daemon, 'actionTimeoutSeconds', 'daemon.', 1, 7 * 86_400),
            drainTimeoutSeconds: r.int(daemon, 'drainTimeoutSeconds', 'daemon.', 30, 0, 3600),
            maintenanceIntervalSeconds: r.int(daemon, 'maintenanceIntervalSeconds', 'daemon.', 15, 1, 3600),
            purgeSchedule: r.str(daemon, 'purgeSchedule', 'daemon.', '17 3 * * *'),
        },
        smtp: smtpHost
            ? {
                host: smtpHost,
                port: env.XTCONNECT_SMTP_PORT ? parsePort(source, env.XTCONNECT_SMTP_PORT) : r.int(smtp, 'port', 'smtp.', 587, 1, 65535),
                security: r.oneOf(smtp, 'security', 'smtp.', 'starttls', ['tls', 'starttls', 'none']),
                user: env.XTCONNECT_SMTP_USER ?? r.str(smtp, 'user', 'smtp.', null),
                password: env.XTCONNECT_SMTP_PASSWORD ?? r.str(smtp, 'password', 'smtp.', null),
                rejectUnauthorized: r.bool(smtp, 'rejectUnauthorized', 'smtp.', true),
                maxConnections: r.int(smtp, 'maxConnections', 'smtp.', 5, 1, 100),
                connectionTimeoutMs: r.int(smtp, 'connectionTimeoutMs', 'smtp.', 30_000, 100, 600_000),
            }
            : null,
        log: {
            level: r.oneOf(log, 'level', 'log.', env.XTCONNECT_LOG_LEVEL ?? 'info', ['error', 'warn', 'info', 'debug']),
            format: r.oneOf(log, 'format', 'log.', 'text', ['text', 'json']),
        },
        status: {
            maxFailures24h: r.int(status, 'maxFailures24h', 'status.', 10, 1, 1_000_000),
            maxQueueAgeSeconds: r.int(status, 'maxQueueAgeSeconds', 'status.', 900, 1, 30 * 86_400),
            daemonStaleSeconds: r.int(status, 'daemonStaleSeconds', 'status.', 60, 5, 86_400),
        },
    };
    if (cfg.smtp && (cfg.smtp.user === null) !== (cfg.smtp.password === null)) {
        throw new errors_1.ConfigError(`${source}: smtp.user and smtp.password go together (set both, or neither for an open relay)`);
    }
    if (!(0, node_cron_1.validate)(cfg.daemon.purgeSchedule)) {
        throw new errors_1.ConfigError(`${source}: daemon.purgeSchedule must be a cron expression such as "17 3 * * *" (got ${JSON.stringify(cfg.daemon.purgeSchedule)})`);
    }
    if (cfg.daemon.backoffMaxSeconds < cfg.daemon.backoffBaseSeconds) {
        throw new errors_1.ConfigError(`${source}: daemon.backoffMaxSeconds must be at least daemon.backoffBaseSeconds`);
    }
    return cfg;
}
function parsePort(source, v) {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 65535) {
        throw new errors_1.ConfigError(`${source}: XTCONNECT_SMTP_PORT must be a port number from 1 to 65535 (got ${JSON.stringify(v)})`);
    }
    return n;
}
/** A connection string with its password replaced, for logs and messages. */
function redactUrl(url) {
    return url.replace(/(\/\/[^:/@]+:)([^@]*)@/, '$1***@');
}
//# sourceMappingURL=config.js.map