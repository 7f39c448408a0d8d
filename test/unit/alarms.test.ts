import { Alarms } from '../../src/daemon/alarms';
import { waitFor } from '../support/wait';

describe('Alarms', () => {
  it('rings once per distinct instant, earliest first, and not before it', async () => {
    const rang: number[] = [];
    const a = new Alarms(() => rang.push(Date.now()));
    const t0 = Date.now();
    a.at(new Date(t0 + 120));
    a.at(new Date(t0 + 40));
    a.at(new Date(t0 + 40));
    expect(a.pending).toBe(2);
    await waitFor('two rings', () => rang.length === 2, 2000, 5);
    expect(rang[0]! - t0).toBeGreaterThanOrEqual(40);
    expect(rang[1]! - t0).toBeGreaterThanOrEqual(120);
    expect(a.pending).toBe(0);
    a.stop();
  });

  it('rings nothing after stop, and takes no more', async () => {
    let rang = 0;
    const a = new Alarms(() => rang++);
    a.at(new Date(Date.now() + 30));
    a.stop();
    a.at(new Date(Date.now() + 10));
    expect(a.pending).toBe(0);
    // A later alarm on another instance shows the time has passed without a ring here.
    let other = 0;
    const b = new Alarms(() => other++);
    b.at(new Date(Date.now() + 60));
    await waitFor('the other alarm', () => other === 1, 2000, 5);
    b.stop();
    expect(rang).toBe(0);
  });

  it('rounds up to its grain, so close instants share one ring', async () => {
    const rang: number[] = [];
    const a = new Alarms(() => rang.push(Date.now()), 250);
    const t0 = Math.ceil(Date.now() / 250) * 250 + 250;
    a.at(new Date(t0 + 1));
    a.at(new Date(t0 + 100));
    a.at(new Date(t0 + 249));
    expect(a.pending).toBe(1);
    await waitFor('one ring', () => rang.length === 1, 2000, 5);
    expect(rang[0]!).toBeGreaterThanOrEqual(t0 + 250);
    a.stop();
  });

  it('when full, keeps the earliest: an alarm sooner than all of them pushes out the latest, and rings', async () => {
    let rang = 0;
    const a = new Alarms(() => rang++);
    const far = Date.now() + 3600_000;
    for (let i = 0; i < Alarms.MAX; i++) a.at(new Date(far + i * 1000));
    a.at(new Date(far + Alarms.MAX * 1000));
    expect(a.pending).toBe(Alarms.MAX);
    a.at(new Date(Date.now() + 50));
    await waitFor('the near alarm', () => rang === 1, 2000, 5);
    expect(a.pending).toBe(Alarms.MAX - 1);
    a.stop();
  });
});
