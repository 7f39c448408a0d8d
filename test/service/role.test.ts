import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import pg from 'pg';
import { statusCommand } from '../../src/cli/commands/status';
import { SQL_DIR } from '../../src/db/migrate';
import { silentLogger } from '../../src/log';
import { testConfig } from '../support/config';
import { startDaemon } from '../support/daemon';
import { databaseSuite } from '../support/suite';
import { waitFor } from '../support/wait';

// Least privilege: sql/0009 makes an `xtconnect` group role with only what the daemon needs. A login in that
// role runs a daemon that sends mail (outbox) and purges, and `status` works as that login; writes it does not
// need are refused. Roles are cluster-wide: the migration of the test template (run as a superuser) made the
// real `xtconnect` role; the file's other branches are run under a role name of this test's own.

const suite = databaseSuite(`TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE`);
const roleFile = fs.readFileSync(path.join(SQL_DIR, '0009_xtconnect_role.sql'), 'utf8');
/** Roles this file made; dropped at the end, whether or not the database is already gone. */
const madeRoles: string[] = [];

afterAll(async () => {
  // While the database exists, a role's grants in it keep the role; DROP OWNED removes them (and is a no-op, or
  // fails harmlessly, once the database is dropped, which takes them too).
  for (const r of madeRoles) await suite.db.pool.query(`DROP OWNED BY ${r}`).catch(() => undefined);
  const admin = new pg.Client({ connectionString: process.env.XTCONNECT_TEST_ADMIN_URL });
  await admin.connect();
  try {
    for (const r of madeRoles) await admin.query(`DROP ROLE IF EXISTS ${r}`);
  } finally {
    await admin.end();
  }
});

function urlAs(user: string): string {
  const u = new URL(suite.db.url);
  u.username = user;
  u.password = '';
  return u.toString();
}

async function loginInRole(role: string): Promise<string> {
  const user = `xtc_login_${crypto.randomBytes(4).toString('hex')}`;
  await suite.db.pool.query(`CREATE ROLE ${user} LOGIN IN ROLE ${role}`);
  madeRoles.push(user);
  return user;
}

/** Runs SQL as `user`, collecting its NOTICEs. */
async function runAs(user: string, sql: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: urlAs(user) });
  const notices: string[] = [];
  c.on('notice', (n) => notices.push(n.message ?? ''));
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
  return notices;
}

async function rolePrivileges(role: string): Promise<Record<string, string>> {
  const { rows } = await suite.db.pool.query<{ t: string; p: string }>(
    `SELECT table_schema || '.' || table_name AS t, string_agg(privilege_type, ',' ORDER BY privilege_type) AS p
       FROM information_schema.role_table_grants WHERE grantee = $1 GROUP BY 1`,
    [role],
  );
  return Object.fromEntries(rows.map((r) => [r.t, r.p]));
}

describe('the xtconnect role (sql/0009)', () => {
  it('exists as a NOLOGIN group role with only the grants the daemon needs', async () => {
    const { rows } = await suite.db.pool.query(`SELECT rolcanlogin, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = 'xtconnect'`);
    expect(rows).toEqual([{ rolcanlogin: false, rolsuper: false, rolcreaterole: false }]);
    const p = await rolePrivileges('xtconnect');
    expect(p).toMatchObject({
      'xtbatch.batch': 'DELETE,INSERT,SELECT,UPDATE',
      'xtbatch.batchparam': 'DELETE,INSERT,SELECT,UPDATE',
      'xtbatch.daemon': 'DELETE,INSERT,SELECT,UPDATE',
      'xtbatch.schedule': 'DELETE,INSERT,SELECT,UPDATE',
      'xtbatch.action': 'SELECT',
      'xtbatch.xtconnect_setting': 'SELECT',
      'xtbatch.xtconnect_migration': 'SELECT',
    });
    // Other migrations' tables, granted because they exist here.
    expect(p['xtbatch.eml']).toBe('INSERT,SELECT,UPDATE');
    expect(p['xtbatch.xtconnect_report']).toBe('SELECT');
  });

  it('lets a login in the role run a daemon that sends an Email job to the outbox and runs a Purge, and run status', async () => {
    const user = await loginInRole('xtconnect');
    const url = urlAs(user);
    await suite.db.pool.query(`SELECT xtbatch.setsetting('BatchManagerPurgeDays', '30')`);
    await suite.db.pool.query(
      `INSERT INTO xtbatch.batch (batch_action, batch_started, batch_completed, batch_exitstatus, batch_attempts)
       VALUES ('Email', localtimestamp - interval '40 days', localtimestamp - interval '40 days', '', 1)`,
    );
    const cfg = testConfig(url);
    const d = await startDaemon(cfg);
    suite.daemons.push(d);

    const { rows: mail } = await suite.db.pool.query<{ id: number }>(
      `INSERT INTO xtbatch.batch (batch_action, batch_email, batch_fromemail, batch_subject, batch_responsebody)
       VALUES ('Email', 'someone@example.com', 'erp@example.com', 'least privilege', 'sent by a daemon in the xtconnect role')
       RETURNING batch_id AS id`,
    );
    const { rows: purge } = await suite.db.pool.query<{ id: number }>(`INSERT INTO xtbatch.batch (batch_action) VALUES ('Purge') RETURNING batch_id AS id`);
    const done = async (id: number) =>
      (await suite.db.pool.query(`SELECT batch_exitstatus FROM xtbatch.batch WHERE batch_id = $1 AND batch_completed IS NOT NULL`, [id])).rows[0];
    expect(await waitFor('the Email job', () => done(mail[0]!.id))).toEqual({ batch_exitstatus: '' });
    expect(await waitFor('the Purge job', () => done(purge[0]!.id))).toEqual({ batch_exitstatus: '' });
    const outbox = fs.readdirSync(cfg.outboxDir).filter((f) => f.endsWith('.eml'));
    expect(outbox).toHaveLength(1);
    expect(fs.readFileSync(path.join(cfg.outboxDir, outbox[0]!), 'utf8')).toContain('Subject: least privilege');
    const { rows: left } = await suite.db.pool.query(`SELECT count(*)::int AS n FROM xtbatch.batch WHERE batch_completed < localtimestamp - interval '30 days'`);
    expect(left).toEqual([{ n: 0 }]);
    const { rows: reg } = await suite.db.pool.query(`SELECT daemon_claiming FROM xtbatch.daemon WHERE daemon_id = $1`, [d.daemon.id]);
    expect(reg).toEqual([{ daemon_claiming: true }]);

    const out = new PassThrough();
    let line = '';
    out.on('data', (c: Buffer) => (line += c.toString()));
    const code = await statusCommand({ cfg: testConfig(url), log: silentLogger() }, { json: false }, out);
    expect(line).toMatch(/^XTCONNECT OK - 1 daemon\(s\) alive, /);
    expect(code).toBe(0);
  });

  it('refuses that login what the daemon does not need, and what maintenance needs (ownership)', async () => {
    const user = await loginInRole('xtconnect');
    await expect(runAs(user, `UPDATE xtbatch.action SET action_function = action_function`)).rejects.toThrow(/permission denied for table action/);
    await expect(runAs(user, `DELETE FROM xtbatch.xtconnect_setting`)).rejects.toThrow(/permission denied for table xtconnect_setting/);
    await expect(runAs(user, `DELETE FROM xtbatch.xtconnect_migration`)).rejects.toThrow(/permission denied/);
    await expect(runAs(user, `REINDEX TABLE xtbatch.batch`)).rejects.toThrow(/must be owner of table batch/);
  });

  it('skips creating the role with a NOTICE when the migrating user lacks CREATEROLE, and is harmless to run again', async () => {
    const role = `xtc_role_${crypto.randomBytes(4).toString('hex')}`;
    const asRole = roleFile.replace(/\bxtconnect\b/g, role);
    expect(asRole).not.toBe(roleFile);

    const plain = `xtc_plain_${crypto.randomBytes(4).toString('hex')}`;
    await suite.db.pool.query(`CREATE ROLE ${plain} LOGIN NOCREATEROLE`);
    madeRoles.push(plain);
    const notices = await runAs(plain, asRole);
    expect(notices).toEqual([
      `${role} role not created: ${plain} lacks CREATEROLE; ask an administrator to run CREATE ROLE ${role} NOLOGIN, then grant as sql/0009_xtconnect_role.sql does`,
    ]);
    expect((await suite.db.pool.query(`SELECT 1 FROM pg_roles WHERE rolname = $1`, [role])).rows).toEqual([]);

    // A superuser creates it; a second run changes nothing and fails on nothing.
    madeRoles.push(role);
    await suite.db.pool.query(asRole);
    const first = await rolePrivileges(role);
    expect(first['xtbatch.batch']).toBe('DELETE,INSERT,SELECT,UPDATE');
    await suite.db.pool.query(asRole);
    expect(await rolePrivileges(role)).toEqual(first);
    const { rows } = await suite.db.pool.query(`SELECT rolcanlogin FROM pg_roles WHERE rolname = $1`, [role]);
    expect(rows).toEqual([{ rolcanlogin: false }]);
  });
});
