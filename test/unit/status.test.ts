import { formatLine, judge, STATUS } from '../../src/cli/commands/status';
import type { QueueHealth } from '../../src/db/queries/inspect';

const healthy: QueueHealth = { enabled: true, daemons_alive: 2, daemons_claiming: 2, due: 1, running: 3, failed_24h: 0, oldest_due_seconds: 4 };
const t = { minDaemons: 1, maxFailures24h: 10, maxQueueAgeSeconds: 900 };

describe('status judgement', () => {
  it('is OK with one line and performance data', () => {
    const r = judge(healthy, t);
    expect(r.code).toBe(STATUS.OK);
    expect(formatLine(r)).toBe('XTCONNECT OK - 2 daemon(s) alive, 1 due, 3 running, 0 failed in 24 h, oldest waiting 4 s | daemons=2 due=1 running=3 failed_24h=0 oldest_due=4s');
  });

  it.each([
    [{ daemons_alive: 0 }, STATUS.CRITICAL, '0 daemon(s) alive, need 1'],
    [{ failed_24h: 10 }, STATUS.WARNING, '10 job(s) failed in 24 h (limit 10)'],
    [{ oldest_due_seconds: 901 }, STATUS.WARNING, 'oldest due job has waited 901 s (limit 900 s)'],
    [{ enabled: false }, STATUS.WARNING, 'EnableBatchManager is off'],
  ])('%p gives %i', (change, code, words) => {
    const r = judge({ ...healthy, ...change }, t);
    expect(r.code).toBe(code);
    expect(formatLine(r)).toContain(words);
  });

  it('does not count an old scheduled job when nothing is due', () => {
    expect(judge({ ...healthy, due: 0, oldest_due_seconds: 5000 }, t).code).toBe(STATUS.OK);
  });
});
