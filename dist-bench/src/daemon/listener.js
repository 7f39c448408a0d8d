"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.Listener = exports.SETTINGS_CHANNEL = exports.JOBS_CHANNEL = void 0;
const pg_1 = __importDefault(require("pg"));
const pool_1 = require("../db/pool");
const errors_1 = require("../errors");
const backoff_1 = require("./backoff");
exports.JOBS_CHANNEL = 'xtconnect_jobs';
exports.SETTINGS_CHANNEL = 'xtconnect_settings';
/**
 * LISTEN on its own connection, outside the pool (a pooled client would be handed to queries, and PgBouncer in
 * transaction mode cannot LISTEN at all: give it a direct `listenUrl`). Notifications are only hints; when the
 * connection drops, polling carries on while this reconnects with capped, jittered backoff.
 */
class Listener {
    url;
    log;
    onNotify;
    onReconnect;
    client = null;
    timer = null;
    failures = 0;
    stopped = false;
    wasConnected = false;
    constructor(url, log, onNotify, onReconnect) {
        this.url = url;
        this.log = log;
        this.onNotify = onNotify;
        this.onReconnect = onReconnect;
    }
    /** Resolves once the first connection attempt has succeeded or failed; later attempts go on in the background. */
    start() {
        return this.connect();
    }
    get connected() {
        return this.client !== null;
    }
    async connect() {
        if (this.stopped)
            return;
        const client = new pg_1.default.Client((0, pool_1.clientConfig)({ url: this.url, applicationName: 'xtconnect listener' }));
        client.on('notification', (n) => this.onNotify(n.channel));
        client.on('error', (err) => this.lost(client, err));
        client.on('end', () => this.lost(client, new Error('connection ended')));
        try {
            await client.connect();
            await client.query(`LISTEN ${exports.JOBS_CHANNEL}; LISTEN ${exports.SETTINGS_CHANNEL}`);
            if (this.stopped) {
                await client.end().catch(() => undefined);
                return;
            }
            this.client = client;
            if (this.failures > 0 || this.wasConnected)
                this.log.info('LISTEN connection restored', { scope: 'listener' });
            this.failures = 0;
            this.wasConnected = true;
            // Anything that became due while we were not listening is found by the poll this triggers.
            this.onReconnect();
        }
        catch (err) {
            client.removeAllListeners('end');
            client.end().catch(() => undefined);
            this.retry(err);
        }
    }
    lost(client, err) {
        if (this.client !== client)
            return;
        this.client = null;
        client.removeAllListeners('end');
        client.end().catch(() => undefined);
        if (!this.stopped)
            this.retry(err);
    }
    retry(err) {
        if (this.stopped || this.timer)
            return;
        const delay = (0, backoff_1.reconnectDelayMs)(this.failures++);
        const say = this.failures === 1 ? 'warn' : 'debug';
        this.log[say](`LISTEN connection unavailable (${(0, errors_1.errorMessage)(err)}); polling only, reconnecting in ${delay} ms`, { scope: 'listener' });
        this.timer = setTimeout(() => {
            this.timer = null;
            void this.connect();
        }, delay);
    }
    async stop() {
        this.stopped = true;
        if (this.timer)
            clearTimeout(this.timer);
        this.timer = null;
        const c = this.client;
        this.client = null;
        if (c) {
            c.removeAllListeners('end');
            await c.end().catch(() => undefined);
        }
    }
}
exports.Listener = Listener;
//# sourceMappingURL=listener.js.map