import net from 'node:net';
import { writeConfigFile } from '../support/config';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { daemonYaml, killAll, removeTempDirs, spawnXt, tempDir } from '../support/proc';
import { waitFor } from '../support/wait';
import { jobRow, submitEmailAsErp } from './helpers';
import type { PromFamily } from '../service/support';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const parsePrometheus = require('parse-prometheus-text-format') as (text: string) => PromFamily[];

// `start` with metrics.listen serves /metrics and the health endpoints from the real program, and stops serving
// when it exits: what a Prometheus scrape and a load balancer see.

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  await db.pool.query(`SELECT xtbatch.setsetting('EnableBatchManager', 't')`);
});
afterAll(async () => {
  await killAll();
  await db.drop();
  removeTempDirs();
});

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

it('serves /metrics, /healthz and /readyz from the running program, and closes on SIGTERM', async () => {
  const port = await freePort();
  const dir = tempDir();
  const file = writeConfigFile(dir, daemonYaml({ url: db.url, dataDir: dir, extra: `metrics:\n  listen: ${port}` }));
  const proc = spawnXt(['start', '--config', file]);
  await proc.waitForLine(/\[daemon\] daemon \S+ started/);
  const base = `http://127.0.0.1:${port}`;

  const id = await submitEmailAsErp(db, 'counted');
  await waitFor('the job is done', async () => (await jobRow(db, id)).batch_completed !== null);

  await waitFor('/readyz says ready', async () => (await fetch(`${base}/readyz`)).status === 200);
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
  const text = await (await fetch(`${base}/metrics`)).text();
  const families = parsePrometheus(text);
  const jobs = families.find((f) => f.name === 'xtconnect_jobs_total');
  const done = jobs?.metrics.find((m) => m.labels?.action === 'Email' && m.labels?.outcome === 'done');
  expect(Number(done?.value)).toBe(1);
  expect(families.map((f) => f.name)).toEqual(expect.arrayContaining(['xtconnect_job_duration_seconds', 'xtconnect_queue_due_jobs', 'process_resident_memory_bytes']));

  proc.signal('SIGTERM');
  expect((await proc.waitForExit(30_000)).code).toBe(0);
  await expect(fetch(`${base}/healthz`)).rejects.toThrow();
});
