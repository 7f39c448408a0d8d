import { formatLine, judge, parseWindow, STATUS, windowText, type StatusThresholds } from '../../src/cli/commands/status';
import type { QueueHealth } from '../../src/db/queries/inspect';

const healthy: QueueHealth = {
  enabled: true, daemons_alive: 2, daemons_claiming: 2, daemons_idle: [], due: 1, running: 3, failed: 0, failure_window_seconds: 86_400, oldest_due_seconds: 4,
};
const t: StatusThresholds = {
  warnDaemons: 1, critDaemons: 1, warnFailures: 10, critFailures: null, warnQueueAgeSeconds: 900, critQueueAgeSeconds: null, failureWindowSeconds: 86_400,
};

describe('status judgement', () => {
  it('is OK with one line and performance data in the plugin format (value;warn;crit;min)', () => {
    const r = judge(healthy, t);
    expect(r.code).toBe(STATUS.OK);
    expect(formatLine(r)).toBe(
      'XTCONNECT OK - 2 daemon(s) alive, 1 due, 3 running, 0 failed in 24 h, oldest waiting 4 s ' +
        '| daemons=2;1:;1:;0 alive=2;;;0 due=1;;;0 running=3;;;0 failed=0;9;;0 oldest_due=4s;900;;0',
    );
  });

  it.each([
    [{ daemons_alive: 0, daemons_claiming: 0 }, STATUS.CRITICAL, '0 daemon(s) alive, need 1'],
    [{ failed: 10 }, STATUS.WARNING, '10 job(s) failed in 24 h (limit 10)'],
    [{ failed: 9 }, STATUS.OK, ''],
    [{ oldest_due_seconds: 901 }, STATUS.WARNING, 'oldest due job has waited 901 s (limit 900 s)'],
    [{ oldest_due_seconds: 900 }, STATUS.OK, ''],
    [{ enabled: false, daemons_claiming: 0 }, STATUS.WARNING, 'EnableBatchManager is off'],
  ])('%p gives %i', (change, code, words) => {
    const r = judge({ ...healthy, ...change }, t);
    expect(r.code).toBe(code);
    expect(formatLine(r)).toContain(words);
  });

  it('does not count an old scheduled job when nothing is due', () => {
    expect(judge({ ...healthy, due: 0, oldest_due_seconds: 5000 }, t).code).toBe(STATUS.OK);
  });

  it('has separate WARNING and CRITICAL levels for failures, queue age and daemons', () => {
    const both = { ...t, warnFailures: 5, critFailures: 20, warnQueueAgeSeconds: 60, critQueueAgeSeconds: 600, warnDaemons: 3, critDaemons: 1 };
    expect(judge({ ...healthy, failed: 5 }, both).problems).toEqual(['2 daemon(s) alive, want 3', '5 job(s) failed in 24 h (limit 5)']);
    const crit = judge({ ...healthy, failed: 20, oldest_due_seconds: 601, daemons_alive: 0, daemons_claiming: 0 }, both);
    expect(crit.code).toBe(STATUS.CRITICAL);
    expect(crit.problems).toEqual([
      '0 daemon(s) alive, need 1',
      '20 job(s) failed in 24 h (critical 20)',
      'oldest due job has waited 601 s (critical 600 s)',
    ]);
    expect(formatLine(crit)).toMatch(/\| daemons=0;3:;1:;0 alive=0;;;0 due=1;;;0 running=3;;;0 failed=20;4;19;0 oldest_due=601s;60;600;0$/);
    expect(judge({ ...healthy, oldest_due_seconds: 120 }, both).code).toBe(STATUS.WARNING);
  });

  it('counts only claiming daemons while EnableBatchManager is on, and names those that do not claim', () => {
    const r = judge({ ...healthy, daemons_alive: 2, daemons_claiming: 1, daemons_idle: ['erp2 pid 42 version 0.1.0'] }, { ...t, warnDaemons: 2 });
    expect(r.code).toBe(STATUS.WARNING);
    expect(r.problems).toEqual([
      '1 of 2 live daemon(s) claiming, want 2',
      'not claiming (older than the database schema? see its log): erp2 pid 42 version 0.1.0',
    ]);
    const none = judge({ ...healthy, daemons_alive: 1, daemons_claiming: 0, daemons_idle: ['erp2 pid 42 version 0.1.0'] }, t);
    expect(none.code).toBe(STATUS.CRITICAL);
    expect(none.problems[0]).toBe('0 of 1 live daemon(s) claiming, need 1');
  });

  it('names the failure window as people say it', () => {
    expect(judge({ ...healthy, failed: 12, failure_window_seconds: 1800 }, t).problems).toEqual(['12 job(s) failed in 30 min (limit 10)']);
    expect(windowText(86_400)).toBe('24 h');
    expect(windowText(90)).toBe('90 s');
  });

  it('reads --failure-window as seconds or with a unit, and refuses anything else', () => {
    expect(parseWindow('3600')).toBe(3600);
    expect(parseWindow('30m')).toBe(1800);
    expect(parseWindow('24h')).toBe(86_400);
    expect(parseWindow('7d')).toBe(604_800);
    for (const bad of ['0', '', '1w', '-5m', '2.5h']) expect(() => parseWindow(bad)).toThrow(/--failure-window must be a duration/);
  });
});
