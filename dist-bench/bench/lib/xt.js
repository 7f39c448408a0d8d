"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.XT_APP = void 0;
exports.benchConfig = benchConfig;
exports.startXt = startXt;
/** Starting an in-process xtconnect Daemon for a benchmark, with its production defaults. */
const node_fs_1 = __importDefault(require("node:fs"));
const node_os_1 = __importDefault(require("node:os"));
const node_path_1 = __importDefault(require("node:path"));
const config_1 = require("../../src/config");
const loop_1 = require("../../src/daemon/loop");
const pool_1 = require("../../src/db/pool");
const handlers_1 = require("../../src/handlers");
const log_1 = require("../../src/log");
const transport_1 = require("../../src/mail/transport");
const db_1 = require("./db");
const count_1 = require("./count");
exports.XT_APP = 'xtconnect bench daemon';
/**
 * The config a fresh install runs with (loadConfig's defaults: poll every 3 s, LISTEN on, pool of 10, lease 60 s,
 * maintenance every 15 s), read from an empty file so that no /etc/xtconnect file or environment variable leaks in,
 * pointed at the bench database, with `concurrency` jobs at once.
 */
function benchConfig(concurrency) {
    const dataDir = node_fs_1.default.mkdtempSync(node_path_1.default.join(node_os_1.default.tmpdir(), 'xtconnect-bench-'));
    const file = node_path_1.default.join(dataDir, 'xtconnect.yaml');
    node_fs_1.default.writeFileSync(file, '');
    const base = (0, config_1.loadConfig)({ config: file }, { HOME: node_os_1.default.homedir() });
    return {
        ...base,
        source: 'bench',
        dataDir,
        outboxDir: node_path_1.default.join(dataDir, 'outbox'),
        spoolDir: node_path_1.default.join(dataDir, 'spool'),
        database: { ...base.database, url: (0, db_1.benchUrl)(), embedded: false },
        daemon: { ...base.daemon, concurrency },
    };
}
/** A daemon with a pool of its own whose query() is instrumented, and the given extra handlers. */
async function startXt(concurrency, extra) {
    const cfg = benchConfig(concurrency);
    const log = (0, log_1.silentLogger)();
    const pool = (0, pool_1.createPool)({ url: cfg.database.url, max: cfg.database.poolSize, statementTimeoutMs: cfg.database.statementTimeoutMs, applicationName: exports.XT_APP }, log);
    const inst = (0, count_1.instrumentPool)(pool);
    const daemon = new loop_1.Daemon({ cfg, pool, log, handlers: (0, handlers_1.defaultHandlers)(extra), services: { mailer: (0, transport_1.createMailer)(cfg) }, ownsPool: true });
    await daemon.start();
    return {
        daemon,
        cfg,
        inst,
        stop: async () => {
            await daemon.stop(5_000);
            node_fs_1.default.rmSync(cfg.dataDir, { recursive: true, force: true });
        },
    };
}
//# sourceMappingURL=xt.js.map