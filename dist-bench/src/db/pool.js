"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.poolOptionsFrom = poolOptionsFrom;
exports.clientConfig = clientConfig;
exports.createPool = createPool;
exports.isConnectionError = isConnectionError;
const pg_1 = __importDefault(require("pg"));
// xTuple's timestamps are "without time zone" in the server's local time. pg would read them as Node's local
// time and shift them; as text they stay exactly what the ERP wrote.
pg_1.default.types.setTypeParser(pg_1.default.types.builtins.TIMESTAMP, (v) => v);
function poolOptionsFrom(cfg, applicationName, url = cfg.database.url) {
    return { url, max: cfg.database.poolSize, statementTimeoutMs: cfg.database.statementTimeoutMs, applicationName };
}
function clientConfig(opts) {
    return {
        ...(opts.url ? { connectionString: opts.url } : {}),
        application_name: opts.applicationName,
        keepAlive: true,
        connectionTimeoutMillis: 10_000,
    };
}
/**
 * A pool that cannot crash the process: an idle client that loses its server emits 'error' on the pool, and an
 * unhandled 'error' event kills Node. The failure is logged; the next query reconnects.
 */
function createPool(opts, log) {
    const pool = new pg_1.default.Pool({
        ...clientConfig(opts),
        max: opts.max,
        idleTimeoutMillis: 30_000,
        ...(opts.statementTimeoutMs > 0 ? { statement_timeout: opts.statementTimeoutMs } : {}),
    });
    pool.on('error', (err) => log.warn(`database connection lost: ${err.message}`, { scope: 'db' }));
    pool.on('connect', (client) => {
        client.on('error', (err) => log.debug(`database client error: ${err.message}`, { scope: 'db' }));
    });
    return pool;
}
/** Errors after which the same query can succeed once the server is back (GW's RETRYABLE_ERROR_CODES, extended). */
const CONNECTION_CODES = new Set([
    'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE', 'EAI_AGAIN',
    '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004', '53300', '40001', '40P01',
]);
function isConnectionError(err) {
    const e = err;
    if (!e)
        return false;
    if (e.code && CONNECTION_CODES.has(e.code))
        return true;
    return /Connection terminated|connection timeout|Client has encountered a connection error|not queryable/i.test(e.message ?? '');
}
//# sourceMappingURL=pool.js.map