import { reconnectDelayMs, retryDelaySeconds } from '../../src/daemon/backoff';

describe('retryDelaySeconds', () => {
  it('doubles per attempt within ±25 % and stops at the cap', () => {
    const at = (attempt: number, r: number) => retryDelaySeconds(attempt, 10, 3600, () => r);
    expect([at(1, 0.5), at(2, 0.5), at(3, 0.5), at(4, 0.5)]).toEqual([10, 20, 40, 80]);
    expect(at(3, 0)).toBe(30);
    expect(at(3, 1)).toBe(50);
    expect(at(30, 1)).toBe(3600);
    expect(at(1000, 0.5)).toBe(3600);
  });

  it('spreads jobs that failed together', () => {
    const delays = new Set(Array.from({ length: 50 }, () => Math.round(retryDelaySeconds(5, 10, 3600) * 1000)));
    expect(delays.size).toBeGreaterThan(40);
  });
});

describe('reconnectDelayMs', () => {
  it('starts near half a second and is capped near 30 s', () => {
    expect(reconnectDelayMs(0, () => 0.5)).toBe(500);
    expect(reconnectDelayMs(1, () => 0.5)).toBe(1000);
    expect(reconnectDelayMs(50, () => 1)).toBe(37500);
    expect(reconnectDelayMs(50, () => 0.5)).toBe(30000);
  });
});
