import type { FastifySessionObject, SessionStore as FastifySessionStore } from '@fastify/session';
import { LRUCache } from 'lru-cache';

/**
 * Where the console keeps its sessions: in this process's memory (a restart logs everyone out), but bounded.
 *
 * @fastify/session's own MemoryStore is a Map that never forgets a session nobody asks for again. Every visit to
 * the login page leaves one (it holds the form's CSRF secret), and so does every user who closes the browser
 * without logging out. A monitoring probe that fetches /login every 30 s would leave 2,880 a day, for as long as
 * the console runs (bench/consoleMemory.ts measures it). Here a session lives for its idle time and no longer, and
 * there is a ceiling on how many are kept.
 *
 * Sessions before login (the login form's) and after it are kept apart, each with its own ceiling and idle time,
 * so that a flood of requests for the login page can only push out other login forms, never a signed-in user.
 * Past a ceiling the least recently used session goes: its user sees the login page again (a login form then
 * answers "invalid CSRF token", and a reload gives a fresh one).
 *
 * lru-cache (isaacs) does the bookkeeping: time to live refreshed on each save (@fastify/session saves on every
 * response, `rolling`), a ceiling with least-recently-used eviction, and purgeStale() for sessions that expired
 * unasked, which a timer here calls every minute.
 */
export interface SessionLimits {
  /** Signed-in sessions kept at most, and how long one lives unused (the cookie's lifetime). */
  signedIn: { max: number; idleMs: number };
  /** Sessions of the login form, before login. */
  anonymous: { max: number; idleMs: number };
  /** How often expired sessions are dropped. */
  purgeEveryMs: number;
}

export const SESSION_HOURS = 8;

export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  signedIn: { max: 1000, idleMs: SESSION_HOURS * 3600_000 },
  // Time enough to fill in the login form; the form's own CSRF secret dies with it.
  anonymous: { max: 2000, idleMs: 3600_000 },
  purgeEveryMs: 60_000,
};

type Callback = (err?: Error | null) => void;
type Stored = FastifySessionObject;

/** A store for @fastify/session (its `store` option: set, get, destroy with callbacks). */
export class SessionStore implements FastifySessionStore {
  private readonly signedIn: LRUCache<string, Stored>;
  private readonly anonymous: LRUCache<string, Stored>;
  private readonly timer: NodeJS.Timeout;

  constructor(limits: SessionLimits = DEFAULT_SESSION_LIMITS) {
    this.signedIn = new LRUCache({ max: limits.signedIn.max, ttl: limits.signedIn.idleMs, updateAgeOnGet: true });
    this.anonymous = new LRUCache({ max: limits.anonymous.max, ttl: limits.anonymous.idleMs, updateAgeOnGet: true });
    this.timer = setInterval(() => {
      this.signedIn.purgeStale();
      this.anonymous.purgeStale();
    }, limits.purgeEveryMs);
    this.timer.unref();
  }

  set(sessionId: string, session: Stored, callback: Callback): void {
    if (session.user) {
      this.anonymous.delete(sessionId);
      this.signedIn.set(sessionId, session);
    } else {
      this.signedIn.delete(sessionId);
      this.anonymous.set(sessionId, session);
    }
    callback();
  }

  get(sessionId: string, callback: (err: Error | null, session?: Stored | null) => void): void {
    callback(null, this.signedIn.get(sessionId) ?? this.anonymous.get(sessionId) ?? null);
  }

  destroy(sessionId: string, callback: Callback): void {
    this.signedIn.delete(sessionId);
    this.anonymous.delete(sessionId);
    callback();
  }

  /** Sessions kept now, for bench/consoleMemory.ts and the tests. */
  get size(): { signedIn: number; anonymous: number } {
    return { signedIn: this.signedIn.size, anonymous: this.anonymous.size };
  }

  close(): void {
    clearInterval(this.timer);
  }
}
