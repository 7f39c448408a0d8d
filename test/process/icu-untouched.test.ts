import fs from 'node:fs';
import path from 'node:path';
import { writeConfigFile } from '../support/config';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { daemonYaml, killAll, removeTempDirs, spawnXt, tempDir } from '../support/proc';
import { waitFor } from '../support/wait';

// A daemon whose schedules are all in the machine's own zone (the purge schedule is) never asks Intl for
// anything: the first Intl.DateTimeFormat maps about 8 MB of ICU's data into the process, and the single binary
// must stay idle under 80 MB (issue 17, src/schedule/localZone.ts). A preload reports the first use of each Intl
// service, with where it came from.

let db: TestDatabase;
let preload: string;

const INTL_USE = 'xtconnect-test: Intl used:';

beforeAll(async () => {
  db = await createTestDatabase();
  preload = path.join(tempDir(), 'report-intl.js');
  fs.writeFileSync(preload, `
const seen = new Set();
const report = (what) => {
  if (seen.has(what)) return;
  seen.add(what);
  process.stderr.write(${JSON.stringify(INTL_USE)} + ' ' + what + ' ' + new Error().stack.split('\\n').slice(2, 6).join(' | ') + '\\n');
};
for (const k of ['DateTimeFormat', 'NumberFormat', 'Collator', 'PluralRules', 'Segmenter', 'ListFormat', 'RelativeTimeFormat', 'DisplayNames']) {
  const Orig = Intl[k];
  if (!Orig) continue;
  Intl[k] = new Proxy(Orig, {
    construct(t, args) { report('Intl.' + k); return Reflect.construct(t, args); },
    apply(t, self, args) { report('Intl.' + k); return Reflect.apply(t, self, args); },
  });
}
for (const [proto, m] of [[String.prototype, 'localeCompare'], [Date.prototype, 'toLocaleString'], [Date.prototype, 'toLocaleDateString'],
                          [Date.prototype, 'toLocaleTimeString'], [Number.prototype, 'toLocaleString']]) {
  const orig = proto[m];
  proto[m] = function (...args) { report(m); return orig.apply(this, args); };
}
`);
});
afterEach(async () => {
  await killAll();
});
afterAll(async () => {
  await killAll();
  await db.drop();
  removeTempDirs();
});

/**
 * Starts the daemon in zone `tz` (with `extra` config), waits until it has stored its purge schedule and run a
 * job, then stops it; returns the preload's reports.
 */
async function runDaemonIn(tz: string, extra?: string): Promise<{ uses: string[]; purgeZone: string }> {
  const dir = tempDir();
  const file = writeConfigFile(dir, daemonYaml({ url: db.url, dataDir: dir, extra }));
  const proc = spawnXt(['start', '--config', file], { env: { TZ: tz, NODE_OPTIONS: `--require ${preload}` } });
  await proc.waitForLine(/\[daemon\] daemon \S+ started/);
  let purgeZone = '';
  await waitFor('the purge schedule stored', async () => {
    const { rows } = await db.pool.query<{ tz: string }>(`SELECT schedule_timezone AS tz FROM xtbatch.schedule WHERE schedule_name = 'purge'`);
    purgeZone = rows[0]?.tz ?? '';
    return rows.length === 1;
  });
  // A job through claim, handler (mail to the outbox, recorded in xtbatch.eml) and outcome.
  const { rows } = await db.pool.query<{ id: number }>(`SELECT xtbatch.submitEmailToBatch('f@x.y', 'to@example.com', NULL, 'icu', 'body', NULL, NULL::timestamp, false, NULL, NULL) AS id`);
  await waitFor('the job finished', async () => {
    const r = await db.pool.query(`SELECT 1 FROM xtbatch.batch WHERE batch_id = $1 AND batch_completed IS NOT NULL`, [rows[0]!.id]);
    return r.rows.length === 1;
  });
  proc.signal('SIGTERM');
  await proc.waitForExit(20_000);
  await db.pool.query('TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon, xtbatch.schedule CASCADE');
  return { uses: proc.lines.filter((l) => l.startsWith(INTL_USE)), purgeZone };
}

test.each([
  ['UTC', 'UTC'],
  ['Europe/Berlin', 'Europe/Berlin'],
  ['America/New_York', 'America/New_York'],
  ['Asia/Kolkata', 'Asia/Calcutta'],
])('in %s, starting, scheduling the purge, running a job and stopping never use Intl', async (tz, intlName) => {
  const { uses, purgeZone } = await runDaemonIn(tz);
  expect(uses).toEqual([]);
  // The purge schedule runs in the machine's zone, under the name Intl would have given (for an alias, Intl's).
  expect(purgeZone).toBe(intlName);
}, 60_000);

test('a schedule in another zone than the machine\'s is worked out with Intl (so the preload does see Intl used)', async () => {
  const { uses } = await runDaemonIn('UTC', ['schedules:', '  - name: tokyo-report', '    action: Noop', '    cron: "0 7 * * *"', '    timezone: Asia/Tokyo'].join('\n'));
  expect(uses.some((l) => l.includes('Intl.DateTimeFormat'))).toBe(true);
}, 60_000);
