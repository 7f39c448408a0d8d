import os from 'node:os';
import { checkSchema, KNOWN_SCHEMA_VERSION, migrate, SchemaTooNewError } from '../../src/db/migrate';
import type { HealthBody } from '../../src/service/http';
import { VERSION } from '../../src/version';
import { testConfig } from '../support/config';
import { databaseSuite } from '../support/suite';
import { waitFor } from '../support/wait';
import { captureLogger, get, messages, sample, scrape, startServedDaemon, type ServedDaemon } from './support';

// Upgrades: a newer xtconnect migrates the database while older daemons run. They must stop claiming (their
// running jobs finish), say so in the log, in xtbatch.daemon (so `status` reports them) and in /readyz.

const suite = databaseSuite(
  `TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE; SELECT xtbatch.setsetting('EnableBatchManager', 't')`,
);
const served: ServedDaemon[] = [];
afterEach(async () => {
  await Promise.all(served.splice(0).map((s) => s.stop()));
  await suite.db.pool.query(`DELETE FROM xtbatch.xtconnect_migration WHERE migration_version > $1`, [KNOWN_SCHEMA_VERSION()]);
});

async function jobState(id: number): Promise<{ started: string | null; completed: string | null; exitstatus: string | null }> {
  const { rows } = await suite.db.pool.query(
    `SELECT batch_started AS started, batch_completed AS completed, batch_exitstatus AS exitstatus FROM xtbatch.batch WHERE batch_id = $1`,
    [id],
  );
  return rows[0] as { started: string | null; completed: string | null; exitstatus: string | null };
}

async function insertJob(action: string): Promise<number> {
  const { rows } = await suite.db.pool.query<{ id: number }>(`INSERT INTO xtbatch.batch (batch_action) VALUES ($1) RETURNING batch_id AS id`, [action]);
  return rows[0]!.id;
}

describe('a daemon older than the schema', () => {
  it('stops claiming once a newer migration is recorded, finishes its running job, and says so everywhere', async () => {
    const { log, lines } = captureLogger();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const s = await startServedDaemon(testConfig(suite.db.url), { Hold: async () => gate, Noop: async () => null }, { log });
    served.push(s);
    const known = s.daemon.health().knownSchemaVersion;
    expect(known).toBe(KNOWN_SCHEMA_VERSION());

    const held = await insertJob('Hold');
    await waitFor('the held job to run', () => s.daemon.runningCount === 1);

    // What a newer xtconnect's `migrate` leaves behind.
    await suite.db.pool.query(`INSERT INTO xtbatch.xtconnect_migration (migration_version, migration_name) VALUES ($1, 'from_a_newer_xtconnect')`, [known + 1]);
    await waitFor('the daemon row to say it no longer claims', async () => {
      const { rows } = await suite.db.pool.query(`SELECT daemon_claiming FROM xtbatch.daemon WHERE daemon_id = $1`, [s.daemon.id]);
      return rows[0]?.daemon_claiming === false;
    });
    expect(s.daemon.claiming).toBe(false);
    expect(messages(lines)).toContain(
      `the database schema is now at version ${known + 1}, newer than this xtconnect ${VERSION} knows (${known}): ` +
        `claiming no more jobs (running ones finish); upgrade xtconnect on ${os.hostname()} and restart it`,
    );
    expect(lines.find((l) => l.includes('newer than this xtconnect'))).toMatch(/"level":"error"/);

    const ready = await get(s.server, '/readyz');
    expect(ready.status).toBe(503);
    expect((JSON.parse(ready.body) as HealthBody).reasons).toContain(
      `the database schema is at version ${known + 1}, newer than this xtconnect knows (${known}): upgrade it`,
    );
    expect(sample(await scrape(s.server), 'xtconnect_daemon_claiming')).toBe(0);

    // A new job is left for an up-to-date daemon: several claim passes go by (each one woken by its NOTIFY or
    // the poll timer) and it is still not started.
    const waiting = await insertJob('Noop');
    const polls = s.daemon.stats.polls;
    await waitFor('three more claim passes', () => s.daemon.stats.polls >= polls + 3);
    expect((await jobState(waiting)).started).toBeNull();

    // The running job still finishes and its outcome is written.
    release();
    await waitFor('the held job to be recorded done', async () => (await jobState(held)).completed !== null);
    expect((await jobState(held)).exitstatus).toBe('');
    expect((await jobState(waiting)).started).toBeNull();

    // Back to a schema it knows (a rolled-back upgrade): it claims again.
    await suite.db.pool.query(`DELETE FROM xtbatch.xtconnect_migration WHERE migration_version = $1`, [known + 1]);
    await waitFor('the waiting job to run', async () => (await jobState(waiting)).completed !== null);
    expect(s.daemon.claiming).toBe(true);
  });

  it('does not claim at all when it starts against a schema already newer than it knows', async () => {
    const s = await startServedDaemon(testConfig(suite.db.url), { Noop: async () => null }, { daemon: { knownSchemaVersion: 1 } });
    served.push(s);
    const id = await insertJob('Noop');
    const polls = s.daemon.stats.polls;
    await waitFor('three more claim passes', () => s.daemon.stats.polls >= polls + 3);
    expect((await jobState(id)).started).toBeNull();
    const { rows } = await suite.db.pool.query(`SELECT daemon_claiming FROM xtbatch.daemon WHERE daemon_id = $1`, [s.daemon.id]);
    expect(rows[0]).toEqual({ daemon_claiming: false });
    expect(s.daemon.health().schemaAhead).toBe(KNOWN_SCHEMA_VERSION());
  });
});

describe('schema checks for `start` and `migrate --dry-run`', () => {
  it('checkSchema refuses a database migrated by a newer xtconnect', async () => {
    await expect(checkSchema(suite.db.pool)).resolves.toEqual({ version: KNOWN_SCHEMA_VERSION(), pending: 0 });
    await suite.db.pool.query(`INSERT INTO xtbatch.xtconnect_migration (migration_version, migration_name) VALUES ($1, 'newer')`, [KNOWN_SCHEMA_VERSION() + 1]);
    await expect(checkSchema(suite.db.pool)).rejects.toBeInstanceOf(SchemaTooNewError);
    await expect(migrate(suite.db.pool, { dryRun: true })).rejects.toThrow(/upgrade xtconnect on this machine/);
  });

  it('a dry run lists what would be applied and changes nothing', async () => {
    const last = KNOWN_SCHEMA_VERSION();
    const before = await suite.db.pool.query(`SELECT migration_name FROM xtbatch.xtconnect_migration WHERE migration_version = $1`, [last]);
    await suite.db.pool.query(`DELETE FROM xtbatch.xtconnect_migration WHERE migration_version = $1`, [last]);
    try {
      const r = await migrate(suite.db.pool, { dryRun: true });
      expect(r.applied).toEqual([]);
      expect(r.pending.map((m) => m.version)).toEqual([last]);
      const { rows } = await suite.db.pool.query(`SELECT count(*)::int AS n FROM xtbatch.xtconnect_migration WHERE migration_version = $1`, [last]);
      expect(rows[0]).toEqual({ n: 0 });
    } finally {
      await suite.db.pool.query(`INSERT INTO xtbatch.xtconnect_migration (migration_version, migration_name) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [
        last,
        before.rows[0].migration_name,
      ]);
    }
  });
});
