import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import type { BatchRow } from '../../src/db/queries/batch';
import { decideRetry, retryRule } from '../../src/daemon/retryPolicy';
import { ConfigError } from '../../src/errors';
import { testConfig } from '../support/config';
import { startDaemon } from '../support/daemon';
import type { TestDatabase } from '../support/db';
import { databaseSuite } from '../support/suite';
import { tempDir } from '../support/tempDirs';
import { waitFor } from '../support/wait';

// Issue 13, finding 6: transient failures are retried by time (per action; Email for 48 hours like a mail server),
// not only by count, then failed with the history of the errors.

const suite = databaseSuite(`TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE; SELECT xtbatch.setsetting('EnableBatchManager', 't')`);
let db: TestDatabase;
beforeAll(() => {
  db = suite.db;
});

function job(over: Partial<BatchRow> = {}): BatchRow {
  return { batch_id: 1, batch_action: 'Email', batch_attempts: 1, batch_max_attempts: null, retrying_for_seconds: null, error_history: null, ...over } as BatchRow;
}

function configFile(yaml: string) {
  const dir = tempDir('xtconnect-retry-');
  const file = path.join(dir, 'xtconnect.yaml');
  fs.writeFileSync(file, yaml);
  return loadConfig({ config: file }, { HOME: os.homedir() } as NodeJS.ProcessEnv);
}

describe('the retry rule', () => {
  it('retries Email for 48 hours with no attempt limit by default, other actions by daemon.maxAttempts and retryPeriod', () => {
    const cfg = configFile('daemon:\n  maxAttempts: 5\n');
    expect(retryRule(cfg, job())).toEqual({ periodSeconds: 48 * 3600, maxAttempts: null });
    expect(retryRule(cfg, job({ batch_action: 'RunReport' }))).toEqual({ periodSeconds: 3600, maxAttempts: 5 });
    // The job's own limit wins.
    expect(retryRule(cfg, job({ batch_max_attempts: 2 }))).toEqual({ periodSeconds: 48 * 3600, maxAttempts: 2 });
  });

  it('reads daemon.retryPeriod and retry.<action> from the file', () => {
    const cfg = configFile('daemon:\n  retryPeriod: 90m\nretry:\n  RunReport:\n    period: 1h30m\n    maxAttempts: 0\n  Email:\n    period: 3d\n');
    expect(cfg.daemon.retryPeriodSeconds).toBe(5400);
    expect(retryRule(cfg, job({ batch_action: 'RunReport' }))).toEqual({ periodSeconds: 5400, maxAttempts: null });
    expect(retryRule(cfg, job())).toEqual({ periodSeconds: 3 * 86_400, maxAttempts: null });
  });

  it('refuses a bad period or an unknown key, naming it', () => {
    expect(() => configFile('retry:\n  Email:\n    period: soon\n')).toThrow(ConfigError);
    expect(() => configFile('retry:\n  Email:\n    period: soon\n')).toThrow(/retry\.Email\.period must be a duration/);
    expect(() => configFile('retry:\n  Email:\n    periode: 2h\n')).toThrow(/unknown key "retry\.Email\.periode"/);
    expect(() => configFile('daemon:\n  retryPeriod: -5\n')).toThrow(/daemon\.retryPeriod must be a duration/);
  });

  it('keeps retrying past the old 5 attempts while the period lasts, with backoff capped by what is left of it', () => {
    const cfg = testConfig('postgres://unused', { daemon: { maxAttempts: 5, backoffBaseSeconds: 10, backoffMaxSeconds: 3600 } });
    const later = decideRetry(cfg, job({ batch_attempts: 12, retrying_for_seconds: 3 * 3600 }), 'SMTP down', 100, () => 0.5);
    expect(later).toEqual({ kind: 'retry', delaySeconds: 3600, message: 'attempt 12 failed (retrying for up to 48 h): SMTP down' });
    const nearEnd = decideRetry(cfg, job({ batch_attempts: 60, retrying_for_seconds: 48 * 3600 - 100 }), 'SMTP down', 0, () => 0.5);
    expect(nearEnd).toMatchObject({ kind: 'retry', delaySeconds: 100 });
    const over = decideRetry(cfg, job({
      batch_attempts: 61, retrying_for_seconds: 48 * 3600 + 1,
      error_history: [{ at: '2026-12-02 10:00:00+00', attempt: 1, error: 'attempt 1 failed (retrying for up to 48 h): SMTP down' }],
    }), 'SMTP still down', 0);
    expect(over).toEqual({
      kind: 'failed',
      message: 'gave up after retrying for 48 h (61 attempts); last error: SMTP still down; earlier: [2026-12-02 10:00:00+00] attempt 1 failed (retrying for up to 48 h): SMTP down',
    });
  });
});

describe('retries by time in the daemon', () => {
  it('retries an action through more than daemon.maxAttempts within its period, then fails it with the history', async () => {
    let calls = 0;
    const cfg = testConfig(db.url, { daemon: { maxAttempts: 5, backoffBaseSeconds: 0, backoffMaxSeconds: 0 }, retry: { Flaky: { periodSeconds: 2, maxAttempts: 0 } } });
    suite.daemons.push(await startDaemon(cfg, {
      Flaky: async () => {
        calls++;
        await new Promise((r) => setTimeout(r, 50));
        throw new Error(`relay unavailable (call ${calls})`);
      },
    }));
    const { rows } = await db.pool.query<{ batch_id: number }>(`INSERT INTO xtbatch.batch (batch_action) VALUES ('Flaky') RETURNING batch_id`);
    const id = rows[0]!.batch_id;
    const r = await waitFor('failed', async () => {
      const { rows: j } = await db.pool.query(`SELECT j.state, b.batch_attempts, b.batch_exitstatus, b.batch_retrying_since FROM xtbatch.job j JOIN xtbatch.batch b USING (batch_id) WHERE batch_id = $1`, [id]);
      return j[0].state === 'failed' ? j[0] : null;
    }, 20_000);
    expect(r.batch_attempts).toBeGreaterThan(5);
    expect(calls).toBe(r.batch_attempts);
    expect(r.batch_exitstatus).toMatch(new RegExp(`^gave up after retrying for 2 s \\(${calls} attempts\\); last error: relay unavailable \\(call ${calls}\\); earlier: `));
    // The history keeps the last 10 errors of the series, the one before the last attempt at the end.
    expect(r.batch_exitstatus).toMatch(new RegExp(`\\] attempt ${calls - 1} failed \\(retrying for up to 2 s\\): relay unavailable \\(call ${calls - 1}\\)$`));
    // The series is over: nothing left for the next time someone retries the job by hand.
    expect(r.batch_retrying_since).toBeNull();
  });

  it('starts a retry when its backoff is over, not at the next poll', async () => {
    // The poll interval is 60 s: a retry about 1 s after the failure can only come from the retry's alarm.
    const cfg = testConfig(db.url, { daemon: { pollIntervalMs: 60_000, backoffBaseSeconds: 1, backoffMaxSeconds: 1 } });
    let calls = 0;
    suite.daemons.push(await startDaemon(cfg, {
      Flaky: async () => {
        if (++calls === 1) throw new Error('relay unavailable');
      },
    }));
    await waitFor('daemon polled once', async () => suite.daemons[0]!.daemon.stats.polls > 0);
    const { rows } = await db.pool.query<{ batch_id: number }>(`INSERT INTO xtbatch.batch (batch_action) VALUES ('Flaky') RETURNING batch_id`);
    const id = rows[0]!.batch_id;
    const r = await waitFor('the retry done', async () => {
      const { rows: j } = await db.pool.query<{ state: string; attempts: number; late: number }>(
        `SELECT j.state, b.batch_attempts AS attempts, extract(epoch FROM b.batch_started - b.batch_scheduled)::float8 AS late
           FROM xtbatch.job j JOIN xtbatch.batch b USING (batch_id) WHERE batch_id = $1`, [id]);
      return j[0]!.state === 'done' ? j[0]! : null;
    }, 20_000, 20);
    expect(r.attempts).toBe(2);
    expect(calls).toBe(2);
    // batch_scheduled is the retry's time, written by the outcome: started after it, never before, by the alarm's
    // quarter second plus a loaded machine's scheduling.
    expect(r.late).toBeGreaterThanOrEqual(0);
    expect(r.late).toBeLessThan(5);
  });
});
