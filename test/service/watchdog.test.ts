import { reconnectDelayMs } from '../../src/daemon/backoff';
import { loopStallLimitMs, WatchdogFeeder, watchdogTimeoutMs } from '../../src/service/watchdog';
import { testConfig } from '../support/config';
import { recordingLogger } from '../support/recordingLogger';

// The systemd watchdog is fed only while the claim loop keeps finishing passes (Daemon.lastPollAt): a loop hung
// on a promise that never settles stops the pings, a database outage (the loop backing off) must not.

describe('watchdogTimeoutMs (sd_watchdog_enabled)', () => {
  it('reads WATCHDOG_USEC as milliseconds', () => {
    expect(watchdogTimeoutMs({ WATCHDOG_USEC: '60000000' }, 42)).toBe(60_000);
    expect(watchdogTimeoutMs({ WATCHDOG_USEC: '1500' }, 42)).toBe(1.5);
  });

  it('applies only to the process WATCHDOG_PID names, when it names one', () => {
    expect(watchdogTimeoutMs({ WATCHDOG_USEC: '60000000', WATCHDOG_PID: '42' }, 42)).toBe(60_000);
    expect(watchdogTimeoutMs({ WATCHDOG_USEC: '60000000', WATCHDOG_PID: '41' }, 42)).toBeNull();
  });

  it('is off when WATCHDOG_USEC is unset, zero or not a number', () => {
    expect(watchdogTimeoutMs({}, 42)).toBeNull();
    expect(watchdogTimeoutMs({ WATCHDOG_USEC: '0' }, 42)).toBeNull();
    expect(watchdogTimeoutMs({ WATCHDOG_USEC: '60s' }, 42)).toBeNull();
    expect(watchdogTimeoutMs({ WATCHDOG_USEC: '-5' }, 42)).toBeNull();
  });
});

describe('loopStallLimitMs', () => {
  const cfg = testConfig('postgresql://unused/x');

  it('outlasts the longest wait between passes during a database outage', () => {
    const longestBackoff = Math.max(...Array.from({ length: 40 }, (_, f) => reconnectDelayMs(f, () => 1)));
    const limit = loopStallLimitMs({ ...cfg, daemon: { ...cfg.daemon, pollIntervalMs: 5000 }, database: { ...cfg.database, statementTimeoutMs: 30_000 } });
    // A pass that waited the longest backoff, then a connect timeout (10 s), then a full statement timeout.
    expect(limit).toBeGreaterThan(5000 * 1.1 + longestBackoff + 10_000 + 30_000);
    // ...but not so long that a hung loop goes unnoticed for many minutes.
    expect(limit).toBeLessThan(5 * 60_000);
  });

  it('grows with the poll interval and the statement timeout', () => {
    const base = loopStallLimitMs(cfg);
    expect(loopStallLimitMs({ ...cfg, daemon: { ...cfg.daemon, pollIntervalMs: cfg.daemon.pollIntervalMs + 60_000 } })).toBeGreaterThanOrEqual(base + 66_000);
    expect(loopStallLimitMs({ ...cfg, database: { ...cfg.database, statementTimeoutMs: cfg.database.statementTimeoutMs + 1000 } })).toBe(base + 2000);
  });

  it('still has a bound when statements have no timeout', () => {
    const limit = loopStallLimitMs({ ...cfg, database: { ...cfg.database, statementTimeoutMs: 0 } });
    expect(Number.isFinite(limit)).toBe(true);
    expect(limit).toBeGreaterThan(loopStallLimitMs({ ...cfg, database: { ...cfg.database, statementTimeoutMs: 30_000 } }));
  });
});

/** A logger whose lines the test reads. */

describe('WatchdogFeeder', () => {
  function feeder(stallLimitMs = 10_000) {
    let clock = 1_000_000;
    let lastPollAt = 0;
    const pings: string[] = [];
    const { log, lines } = recordingLogger();
    const f = new WatchdogFeeder({
      timeoutMs: 3000,
      stallLimitMs,
      lastPollAt: () => lastPollAt,
      ping: (status) => pings.push(status),
      status: () => `at ${clock}`,
      log,
      now: () => clock,
    });
    return {
      f,
      pings,
      lines,
      advance: (ms: number) => (clock += ms),
      poll: () => (lastPollAt = clock),
    };
  }

  it('pings with the current status while the loop keeps passing', () => {
    const t = feeder();
    for (let i = 0; i < 20; i++) {
      t.advance(1000);
      t.poll();
      expect(t.f.tick()).toBe(true);
    }
    expect(t.pings).toHaveLength(20);
    expect(t.pings.at(-1)).toBe('at 1020000');
  });

  it('counts from its own start until the first pass ends', () => {
    const t = feeder(10_000);
    t.advance(9_000);
    expect(t.f.tick()).toBe(true);
    t.advance(2_000);
    expect(t.f.tick()).toBe(false);
  });

  it('stops pinging once the loop has not passed for longer than the limit, and says so once', () => {
    const t = feeder(10_000);
    t.poll();
    t.advance(10_000);
    expect(t.f.tick()).toBe(true);
    t.advance(1);
    expect(t.f.tick()).toBe(false);
    for (let i = 0; i < 10; i++) {
      t.advance(1000);
      expect(t.f.tick()).toBe(false);
    }
    expect(t.pings).toHaveLength(1);
    const complaints = t.lines.filter((l) => l.includes('no longer feeding the systemd watchdog'));
    expect(complaints).toHaveLength(1);
    expect(complaints[0]).toContain('has not finished a pass for 10 s (limit 10 s)');
  });

  it('pings again when the loop passes again', () => {
    const t = feeder(10_000);
    t.poll();
    t.advance(20_000);
    expect(t.f.tick()).toBe(false);
    t.poll();
    t.advance(100);
    expect(t.f.tick()).toBe(true);
    expect(t.pings).toHaveLength(1);
    expect(t.lines.some((l) => l.includes('feeding the systemd watchdog again'))).toBe(true);
  });

  it('rides out a database outage: a loop backing off up to the longest reconnect delay keeps it fed', () => {
    const cfg = testConfig('postgresql://unused/x');
    const t = feeder(loopStallLimitMs(cfg));
    t.poll();
    // Twelve failed passes in a row, each ending in a connect timeout and followed by the longest backoff.
    for (let failures = 0; failures < 12; failures++) {
      const wait = reconnectDelayMs(failures, () => 1);
      for (let waited = 0; waited < wait + 10_000; waited += 1000) {
        t.advance(1000);
        expect(t.f.tick()).toBe(true);
      }
      t.poll();
    }
  });

  describe('on its timer', () => {
    beforeEach(() => jest.useFakeTimers());
    afterEach(() => jest.useRealTimers());

    it('pings three times per timeout from start() until stop()', () => {
      let last = Date.now();
      const pings: number[] = [];
      const f = new WatchdogFeeder({
        timeoutMs: 300,
        stallLimitMs: 60_000,
        lastPollAt: () => last,
        ping: () => pings.push(Date.now()),
        status: () => 'ok',
        log: recordingLogger().log,
      });
      expect(f.intervalMs).toBe(100);
      f.start();
      // One at once, then every 100 ms.
      expect(pings).toHaveLength(1);
      for (let i = 0; i < 10; i++) {
        jest.advanceTimersByTime(100);
        last = Date.now();
      }
      expect(pings).toHaveLength(11);
      f.stop();
      jest.advanceTimersByTime(10_000);
      expect(pings).toHaveLength(11);
    });
  });
});
