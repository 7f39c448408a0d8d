/**
 * A maintenance service of the daemon (lease renewal, heartbeat, rescue, settings, scheduler), in the manner of
 * River's: it owns its state, runs itself on a timer between start() and stop(), and runOnce() does one pass now
 * (tests call it; the daemon calls it when an event makes waiting pointless).
 */
export interface MaintenanceService {
  readonly name: string;
  start(): void;
  /** Resolves once no pass is running and no timer is left. */
  stop(): Promise<void>;
  runOnce(): Promise<unknown>;
}
