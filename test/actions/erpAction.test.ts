import type { BatchRow } from '../../src/db/queries/batch';
import { UnknownActionError } from '../../src/errors';
import { defaultHandlers, type JobContext } from '../../src/handlers';
import { silentLogger } from '../../src/log';
import { createMailer } from '../../src/mail/transport';
import { erpActionHandler, makeErpActionHandler, parseArgSpec } from '../../src/handlers/erpAction';
import { serverMaintenanceHandler } from '../../src/handlers/maintenance';
import { testConfig } from '../support/config';
import { startDaemon, type RunningDaemon } from '../support/daemon';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { waitFor } from '../support/wait';
import { finished, submit } from './helpers';

let db: TestDatabase;
let daemon: RunningDaemon;

const arg = (param: string, type: string, required = true, dflt: string | null = null) => ({ param, type, required, default: dflt });

async function map(action: string, fn: string, args: unknown[], extra: { timeout?: number; enabled?: boolean; schema?: string } = {}): Promise<void> {
  await db.pool.query(
    `INSERT INTO xtbatch.action (action_name, action_schema, action_function, action_args, action_timeout_seconds, action_enabled)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [action, extra.schema ?? 'public', fn, JSON.stringify(args), extra.timeout ?? null, extra.enabled ?? true]);
}

async function calls(fn: string): Promise<unknown[]> {
  const { rows } = await db.pool.query(`SELECT args FROM public.call_log WHERE fn = $1 ORDER BY id`, [fn]);
  return rows.map((r) => r.args);
}

async function sleeping(): Promise<number> {
  const { rows } = await db.pool.query(
    // By what the backend waits on, not by its statement's text: the call runs inside xtbatch.xtconnect_run_actions.
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep' AND state = 'active' AND pid <> pg_backend_pid()`);
  return rows[0].n;
}

beforeAll(async () => {
  db = await createTestDatabase();
  await db.pool.query(`
    CREATE TABLE public.call_log (id serial PRIMARY KEY, fn text NOT NULL, args jsonb);
    CREATE FUNCTION public.updatereorderlevel(p_itemsite integer, p_addleadtime boolean) RETURNS integer LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO public.call_log (fn, args) VALUES ('updatereorderlevel', jsonb_build_object('itemsite', p_itemsite, 'addLeadtime', p_addleadtime));
      RETURN p_itemsite * 10;
    END $$;
    CREATE FUNCTION public.typed(p_date date, p_num numeric, p_text text, p_ids integer[], p_when timestamp) RETURNS jsonb LANGUAGE sql AS $$
      SELECT jsonb_build_object('date', p_date, 'num', p_num, 'text', p_text, 'ids', p_ids, 'when', p_when,
                                'types', jsonb_build_array(pg_typeof(p_date), pg_typeof(p_num), pg_typeof(p_ids), pg_typeof(p_when)))
    $$;
    CREATE FUNCTION public.raiser(p integer) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO public.call_log (fn, args) VALUES ('raiser', to_jsonb(p));
      RAISE EXCEPTION 'item site % has no periods', p;
    END $$;
    CREATE FUNCTION public.sleeper() RETURNS void LANGUAGE sql AS $$ SELECT pg_sleep(10) $$;
    CREATE FUNCTION public.nap() RETURNS void LANGUAGE sql AS $$ SELECT pg_sleep(1.5) $$;
    CREATE FUNCTION public.show_timeout() RETURNS text LANGUAGE sql AS $$ SELECT current_setting('statement_timeout') $$;
    CREATE FUNCTION public.serfail() RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'could not serialize access due to concurrent update' USING ERRCODE = 'serialization_failure';
    END $$;
    CREATE FUNCTION public.squares(n integer) RETURNS TABLE (i integer, sq integer) LANGUAGE sql AS $$
      SELECT g, g * g FROM generate_series(1, n) g
    $$;`);
  await map('UpdateReorderLevel', 'updatereorderlevel', [arg('itemsite_id', 'integer'), arg('addLeadtime', 'boolean', false, 'false')]);
  await map('CamelCase', 'updateReorderLevel', [arg('itemsite_id', 'int4'), arg('addLeadtime', 'bool', false, 'true')]);
  await map('Typed', 'typed', [arg('on', 'date'), arg('amount', 'numeric'), arg('note', 'text'), arg('ids', 'integer[]'), arg('at', 'timestamp', false)]);
  await map('Raiser', 'raiser', [arg('n', 'integer')]);
  await map('Sleeper', 'sleeper', [], { timeout: 1 });
  await map('SleeperLong', 'sleeper', [], { timeout: 30 });
  await map('Nap', 'nap', []);
  await map('ShowTimeout', 'show_timeout', []);
  await map('ShowTimeoutMapped', 'show_timeout', [], { timeout: 3 });
  await map('SerFail', 'serfail', []);
  await map('Squares', 'squares', [arg('n', 'integer')]);
  await map('Gone', 'no_such_function', [arg('n', 'integer')]);
  await map('Disabled', 'updatereorderlevel', [arg('itemsite_id', 'integer'), arg('addLeadtime', 'boolean')], { enabled: false });
  await map('BadType', 'raiser', [arg('n', 'integer); DROP TABLE public.call_log; --')]);
  await map('BadSpec', 'raiser', [{ type: 'integer' }]);
  // As the lead registers it: the ERP fallback under '*', next to the daemon's own actions.
  // A lease of 20 s, not the suite's 5: nothing here is about leases, and on a loaded machine (the whole suite on
  // two cores) a stall of the database past a 5 s lease's margin took a job of the retry test back as if its daemon
  // had died, which spent its last attempt (test/daemon/fencing.test.ts has that case).
  daemon = await startDaemon(testConfig(db.url, { daemon: { leaseSeconds: 20 } }), { '*': erpActionHandler, ServerMaintenance: serverMaintenanceHandler });
});
afterAll(async () => {
  await daemon?.stop(0);
  await db?.drop();
});

describe('calling the mapped function', () => {
  it('binds parameters by name and type, whatever their order, and commits', async () => {
    const id = await submit(db, 'UpdateReorderLevel', [
      { name: 'action_name', value: 'UpdateReorderLevel' },
      { name: 'addLeadtime', value: 'true', type: 'bool' },
      { name: 'itemsite_id', value: '42', type: 'int' },
    ]);
    const r = await finished(db, id);
    expect([r.state, r.batch_exitstatus]).toEqual(['done', '']);
    expect(r.batch_result).toEqual({ function: 'public.updatereorderlevel', result: 420 });
    expect(await calls('updatereorderlevel')).toEqual([{ itemsite: 42, addLeadtime: true }]);
  });

  it('gives a parameter the job leaves out its default; an unquoted-style name finds the function', async () => {
    await db.pool.query(`TRUNCATE public.call_log`);
    expect((await finished(db, await submit(db, 'UpdateReorderLevel', [{ name: 'itemsite_id', value: '7' }]))).state).toBe('done');
    expect((await finished(db, await submit(db, 'CamelCase', [{ name: 'itemsite_id', value: '8', type: 'QString' }]))).batch_result)
      .toEqual({ function: 'public.updateReorderLevel', result: 80 });
    expect(await calls('updatereorderlevel')).toEqual([{ itemsite: 7, addLeadtime: false }, { itemsite: 8, addLeadtime: true }]);
  });

  it('casts each value to its argument\'s type: dates, numbers, text as data, arrays, timestamps', async () => {
    const r = await finished(db, await submit(db, 'Typed', [
      { name: 'ids', value: '3, 1,2' },
      { name: 'note', value: "O'Brien'); DROP TABLE public.call_log; --" },
      { name: 'amount', value: '12.50' },
      { name: 'on', value: '2024-02-29', type: 'QDate' },
      { name: 'at', value: '2024-03-01 08:30:00', type: 'QDateTime' },
    ]));
    expect(r.state).toBe('done');
    expect(r.batch_result.result).toEqual({
      date: '2024-02-29', num: 12.5, text: "O'Brien'); DROP TABLE public.call_log; --", ids: [3, 1, 2], when: '2024-03-01T08:30:00',
      types: ['date', 'numeric', 'integer[]', 'timestamp without time zone'],
    });
    const { rows } = await db.pool.query(`SELECT to_regclass('public.call_log') IS NOT NULL AS there`);
    expect(rows[0].there).toBe(true);
  });

  it('records the time the work finished as batch_completed, not the time its transaction began (sql/0036)', async () => {
    const id = await submit(db, 'Nap');
    expect((await finished(db, id)).state).toBe('done');
    const { rows: [t] } = await db.pool.query<{ ran: number }>(
      `SELECT extract(epoch FROM batch_completed - batch_started)::float8 AS ran FROM xtbatch.batch WHERE batch_id = $1`, [id]);
    // The call sleeps 1.5 s; before 0036 the row said it completed within milliseconds of its start.
    expect(t!.ran).toBeGreaterThanOrEqual(1.4);
    expect(t!.ran).toBeLessThan(30);
  });

  it('returns the rows of a set-returning function', async () => {
    const r = await finished(db, await submit(db, 'Squares', [{ name: 'n', value: '3', type: 'int' }]));
    expect(r.batch_result).toEqual({ function: 'public.squares', result: [{ i: 1, sq: 1 }, { i: 2, sq: 4 }, { i: 3, sq: 9 }], rowCount: 3 });
  });

  it('sets the statement timeout from the mapping, else from the job\'s timeout, for the call only', async () => {
    const fromJob = await finished(db, await submit(db, 'ShowTimeout', [], { timeoutSeconds: 7 }));
    expect(fromJob.batch_result.result).toBe('7s');
    const fromMapping = await finished(db, await submit(db, 'ShowTimeoutMapped', [], { timeoutSeconds: 7 }));
    expect(fromMapping.batch_result.result).toBe('3s');
  });
});

describe('bad parameters', () => {
  it('fails a job that lacks a required parameter, naming it, without calling anything', async () => {
    await db.pool.query(`TRUNCATE public.call_log`);
    const id = await submit(db, 'UpdateReorderLevel', [{ name: 'addLeadtime', value: 'true', type: 'bool' }]);
    const r = await finished(db, id);
    expect(r.state).toBe('failed');
    expect(r.batch_exitstatus).toBe(`job ${id}: parameter "itemsite_id" is required by action UpdateReorderLevel ` +
      '(argument 1 of public.updatereorderlevel(integer, boolean)) but the job has no value for it');
    expect(r.batch_attempts).toBe(1);
    expect(await calls('updatereorderlevel')).toEqual([]);
  });

  it('fails a value of the wrong type, naming the parameter', async () => {
    const text = await submit(db, 'UpdateReorderLevel', [{ name: 'itemsite_id', value: 'abc' }]);
    const r = await finished(db, text);
    expect(r.state).toBe('failed');
    expect(r.batch_exitstatus).toBe(`job ${text}: parameter "itemsite_id" is "abc", which is not a valid integer for argument 1 ` +
      'of public.updatereorderlevel(integer, boolean): invalid input syntax for type integer: "abc"');
    const flag = await submit(db, 'UpdateReorderLevel', [{ name: 'itemsite_id', value: '1' }, { name: 'addLeadtime', value: 'sometimes' }]);
    expect((await finished(db, flag)).batch_exitstatus).toMatch(/^job \d+: parameter "addLeadtime" is "sometimes", which is not a valid boolean/);
    const date = await submit(db, 'Typed', [{ name: 'on', value: '2023-02-29' }, { name: 'amount', value: '1' }, { name: 'note', value: '' }, { name: 'ids', value: '1' }]);
    expect((await finished(db, date)).batch_exitstatus).toMatch(/^job \d+: parameter "on" is "2023-02-29", which is not a valid date .*date\/time field value out of range/);
    // A batchparam type the value does not fit is refused before the handler runs.
    const qt = await submit(db, 'UpdateReorderLevel', [{ name: 'itemsite_id', value: 'x1', type: 'int' }]);
    expect((await finished(db, qt)).batch_exitstatus).toMatch(/^job \d+: parameter "itemsite_id" has type int but its value "x1" is not a whole number/);
    expect(await calls('updatereorderlevel')).toEqual([]);
  });
});

describe('failures in and around the call', () => {
  it('fails the job with the database\'s message when the function raises, and rolls its work back', async () => {
    const id = await submit(db, 'Raiser', [{ name: 'n', value: '5' }]);
    const r = await finished(db, id);
    expect(r.state).toBe('failed');
    expect(r.batch_exitstatus).toBe('function public.raiser failed: item site 5 has no periods');
    expect(r.batch_attempts).toBe(1);
    expect(await calls('raiser')).toEqual([]);
  });

  it('stops a call that runs past its statement timeout, with the timeout in the message', async () => {
    const t0 = Date.now();
    const r = await finished(db, await submit(db, 'Sleeper'));
    expect(r.state).toBe('failed');
    expect(r.batch_exitstatus).toBe('function public.sleeper failed: canceling statement due to statement timeout ' +
      '(its statement timeout is 1 s: raise action_timeout_seconds in xtbatch.action, or the job\'s timeout)');
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(await sleeping()).toBe(0);
  });

  it('cancels the call on the server when the job\'s own timeout fires first', async () => {
    const id = await submit(db, 'SleeperLong', [], { timeoutSeconds: 1 });
    await waitFor('the call to be running', async () => (await sleeping()) === 1);
    const r = await finished(db, id);
    expect(r.batch_exitstatus).toMatch(/^did not finish within its timeout of 1 s/);
    // pg_sleep(10) would still be running without the cancel.
    await waitFor('the sleeping call to be cancelled', async () => (await sleeping()) === 0, 4000);
  });

  it('retries a serialization failure, which can succeed another time', async () => {
    const r = await finished(db, await submit(db, 'SerFail', [], { maxAttempts: 2 }));
    expect(r.state).toBe('failed');
    expect(r.batch_attempts).toBe(2);
    expect(r.batch_exitstatus).toMatch(new RegExp('^gave up after 2 attempts; last error: function public\\.serfail failed: ' +
      'could not serialize access due to concurrent update; earlier: \\[[^\\]]+\\] attempt 1 of 2 failed: '));
  });
});

describe('the mapping', () => {
  it('fails an action nothing maps with "no handler", listing the mapped actions', async () => {
    const r = await finished(db, await submit(db, 'RunMRPX'));
    expect(r.state).toBe('failed');
    expect(r.batch_exitstatus).toMatch(/^no handler for action "RunMRPX" in this xtconnect \(it handles: .*\bUpdateReorderLevel\b/);
    expect(r.batch_exitstatus).not.toMatch(/\bDisabled\b/);
  });

  it('lists the daemon\'s own actions too when told them', async () => {
    const handlers = defaultHandlers({ '*': erpActionHandler, ServerMaintenance: serverMaintenanceHandler });
    const handler = makeErpActionHandler(() => handlers.keys());
    const job = { batch_id: 0, batch_action: 'RunMRPX', batch_timeout_seconds: null, params: [] } as unknown as BatchRow;
    const cfg = testConfig(db.url);
    const ctx: JobContext = {
      job, params: new Map(), log: silentLogger(), signal: new AbortController().signal, pool: db.pool, cfg,
      settings: { enabled: true, defaultFrom: null, purgeDays: null, createContacts: false, exclusions: [] },
      services: { mailer: createMailer(cfg) },
    };
    const err = await handler(ctx).catch((e: unknown) => e);
    ctx.services.mailer.close();
    expect(err).toBeInstanceOf(UnknownActionError);
    const listed = /\(it handles: (.*)\)$/.exec((err as Error).message)![1]!.split(', ');
    expect(listed).toEqual(expect.arrayContaining(['Email', 'Purge', 'ServerMaintenance', 'UpdateReorderLevel', 'Typed']));
    expect(listed).not.toContain('*');
    expect(listed).not.toContain('Disabled');
  });

  it('treats a disabled mapping as none, saying so', async () => {
    const r = await finished(db, await submit(db, 'Disabled', [{ name: 'itemsite_id', value: '1' }, { name: 'addLeadtime', value: 'f' }]));
    expect(r.batch_exitstatus).toMatch(/^no handler for action "Disabled" .*; xtbatch\.action maps it to public\.updatereorderlevel but action_enabled is false$/);
    expect(await calls('updatereorderlevel')).toEqual([]);
  });

  it('uses a changed mapping from the next job on (the cached mapping is dropped when xtbatch.action changes)', async () => {
    await db.pool.query(`TRUNCATE public.call_log`);
    await map('Switch', 'updatereorderlevel', [arg('itemsite_id', 'integer'), arg('addLeadtime', 'boolean', false, 'false')]);
    const first = await finished(db, await submit(db, 'Switch', [{ name: 'itemsite_id', value: '2' }]));
    expect(first.batch_result).toEqual({ function: 'public.updatereorderlevel', result: 20 });
    // Cached now; the next job of the same mapping must still see a change to any column.
    await db.pool.query(`UPDATE xtbatch.action SET action_function = 'raiser', action_args = $1 WHERE action_name = 'Switch'`,
      [JSON.stringify([arg('itemsite_id', 'integer')])]);
    const second = await finished(db, await submit(db, 'Switch', [{ name: 'itemsite_id', value: '3' }]));
    expect(second.batch_exitstatus).toMatch(/item site 3 has no periods/);
    await db.pool.query(`UPDATE xtbatch.action SET action_enabled = false WHERE action_name = 'Switch'`);
    const third = await finished(db, await submit(db, 'Switch', [{ name: 'itemsite_id', value: '4' }]));
    expect(third.batch_exitstatus).toMatch(/^no handler for action "Switch" .*action_enabled is false$/);
    await db.pool.query(`DELETE FROM xtbatch.action WHERE action_name = 'Switch'`);
    const fourth = await finished(db, await submit(db, 'Switch', [{ name: 'itemsite_id', value: '5' }]));
    expect(fourth.batch_exitstatus).toMatch(/^no handler for action "Switch"/);
    expect(await calls('updatereorderlevel')).toEqual([{ itemsite: 2, addLeadtime: false }]);
    // raiser's own insert rolled back with its exception: its message above shows it ran.
  });

  it('looks a cached function up again once a call of it fails (dropped and created again, no change of the mapping)', async () => {
    await db.pool.query(`CREATE FUNCTION public.flip() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$`);
    await map('Flip', 'flip', []);
    expect((await finished(db, await submit(db, 'Flip'))).batch_result).toEqual({ function: 'public.flip', result: 1 });
    await db.pool.query(`DROP FUNCTION public.flip(); CREATE FUNCTION public.flip() RETURNS text LANGUAGE sql AS $$ SELECT 'two' $$`);
    // The cached statement may meet the replaced function once; the job after that must run the new one.
    await finished(db, await submit(db, 'Flip'));
    expect((await finished(db, await submit(db, 'Flip'))).batch_result).toEqual({ function: 'public.flip', result: 'two' });
  });

  it('refuses an action whose function is missing, naming the function', async () => {
    const r = await finished(db, await submit(db, 'Gone', [{ name: 'n', value: '1' }]));
    expect(r.batch_exitstatus).toBe('action "Gone" is mapped to function public.no_such_function(integer), which does not exist in this database');
  });

  it('refuses a type that is no type and a malformed argument list, and runs nothing', async () => {
    const bad = await finished(db, await submit(db, 'BadType', [{ name: 'n', value: '1' }]));
    expect(bad.batch_exitstatus).toMatch(/^xtbatch\.action "BadType": argument 1 \("n"\) has type "integer\); DROP TABLE public\.call_log; --", which is not a type/);
    const spec = await finished(db, await submit(db, 'BadSpec'));
    expect(spec.batch_exitstatus).toMatch(/^xtbatch\.action "BadSpec": action_args argument 1 has no "param"/);
    const { rows } = await db.pool.query(`SELECT to_regclass('public.call_log') IS NOT NULL AS there`);
    expect(rows[0].there).toBe(true);
    expect(() => parseArgSpec('X', { param: 'a' })).toThrow(/action_args is not a JSON array/);
  });

  it('does not accept a mapping to a built-in function', async () => {
    await expect(map('Terminate', 'pg_terminate_backend', [arg('pid', 'integer')], { schema: 'pg_catalog' })).rejects.toThrow(/check constraint/);
  });

  it('leaves the daemon\'s own actions to their handlers', async () => {
    const r = await finished(db, await submit(db, 'ServerMaintenance', [{ name: 'table', value: 'public.call_log' }]));
    expect([r.state, r.batch_result.tables[0].table]).toEqual(['done', 'public.call_log']);
  });
});
