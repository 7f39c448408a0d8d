import { JobStop } from '../../src/daemon/jobStop';

// The executor's stop without an AbortController per job (issue 17): the contract handlers rely on.
describe('JobStop', () => {
  it('rejects the waiter with the first reason; a second abort changes nothing', async () => {
    const stop = new JobStop();
    const waiting = stop.whenStopped();
    stop.abort(new Error('timeout'));
    stop.abort(new Error('shutdown'));
    await expect(waiting).rejects.toThrow('timeout');
    expect(stop.aborted).toBe(true);
    expect((stop.reason as Error).message).toBe('timeout');
  });

  it('gives a handler that asks for the signal after the stop an aborted signal with the reason', () => {
    const stop = new JobStop();
    stop.abort(new Error('lease lost'));
    expect(stop.signal.aborted).toBe(true);
    expect((stop.signal.reason as Error).message).toBe('lease lost');
  });

  it('aborts a signal the handler already holds, and its listeners run', () => {
    const stop = new JobStop();
    const signal = stop.signal;
    const heard: unknown[] = [];
    signal.addEventListener('abort', () => heard.push(signal.reason));
    expect(signal.aborted).toBe(false);
    stop.abort('cancelled');
    expect(heard).toEqual(['cancelled']);
    expect(stop.signal).toBe(signal);
  });

  it('rejects at once when the job was stopped before the executor waits', async () => {
    const stop = new JobStop();
    stop.abort('early');
    await expect(stop.whenStopped()).rejects.toBe('early');
  });
});
