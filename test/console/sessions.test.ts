/**
 * The console's sessions are bounded (src/console/sessionStore.ts). @fastify/session's own MemoryStore kept every
 * session nobody asked for again: each fetch of the login page (a monitoring probe, every 30 s for years) and each
 * browser closed without logging out, about 2 KB each (bench/consoleMemory.ts). Here: a session lives for its idle
 * time only, there is a ceiling, and a flood of login-page fetches cannot push a signed-in user out.
 */
import type { Browser } from 'playwright-core';
import { DEFAULT_SESSION_LIMITS, SessionStore, type SessionLimits } from '../../src/console/sessionStore';
import { loginForm } from '../support/consoleClient';
import { killAll } from '../support/proc';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { waitFor } from '../support/wait';
import { createRoles, launchBrowser, startConsoleProcess, type ConsoleProcess, type Roles } from './harness';

const HOUR = 3600_000;
const limits = (o: Partial<{ signedIn: number; anonymous: number; idleMs: number; purgeEveryMs: number }>): SessionLimits => ({
  signedIn: { max: o.signedIn ?? 10, idleMs: o.idleMs ?? HOUR },
  anonymous: { max: o.anonymous ?? 10, idleMs: o.idleMs ?? HOUR },
  purgeEveryMs: o.purgeEveryMs ?? 60_000,
});

/** The store's callbacks, as promises. */
function store(l: SessionLimits) {
  const s = new SessionStore(l);
  return {
    s,
    set: (id: string, user?: string) => new Promise<void>((r) => s.set(id, { user } as never, () => r())),
    get: (id: string) => new Promise<unknown>((r) => s.get(id, (_e, v) => r(v))),
    destroy: (id: string) => new Promise<void>((r) => s.destroy(id, () => r())),
  };
}

describe('SessionStore', () => {
  const open: SessionStore[] = [];
  afterAll(() => open.forEach((s) => s.close()));

  it('keeps at most its ceiling of login-form sessions, and a flood of them never pushes out a signed-in one', async () => {
    const t = store(limits({ signedIn: 2, anonymous: 5 }));
    open.push(t.s);
    await t.set('user-a', 'alice');
    for (let i = 0; i < 50; i++) await t.set(`form-${i}`);
    expect(t.s.size).toEqual({ signedIn: 1, anonymous: 5 });
    expect(await t.get('user-a')).toMatchObject({ user: 'alice' });
    // The least recently used login forms went; the newest stay.
    expect(await t.get('form-0')).toBeNull();
    expect(await t.get('form-49')).toMatchObject({});
  });

  it('moves a session from the login form to signed in when it gains a user, and forgets it when destroyed', async () => {
    const t = store(limits({}));
    open.push(t.s);
    await t.set('s1');
    expect(t.s.size).toEqual({ signedIn: 0, anonymous: 1 });
    await t.set('s1', 'bob');
    expect(t.s.size).toEqual({ signedIn: 1, anonymous: 0 });
    await t.destroy('s1');
    expect(t.s.size).toEqual({ signedIn: 0, anonymous: 0 });
    expect(await t.get('s1')).toBeNull();
  });

  it('drops sessions idle longer than their idle time, even when nobody asks for them again', async () => {
    const t = store(limits({ idleMs: 200, purgeEveryMs: 50 }));
    open.push(t.s);
    await t.set('gone-1');
    await t.set('gone-2', 'carol');
    expect(t.s.size).toEqual({ signedIn: 1, anonymous: 1 });
    // Only the purge timer can empty it: nothing reads these sessions again.
    await waitFor('idle sessions purged', async () => t.s.size.signedIn + t.s.size.anonymous === 0, 5_000, 20);
  });
});

describe('xtconnect console, with its ceiling of login-form sessions (DEFAULT_SESSION_LIMITS)', () => {
  let db: TestDatabase;
  let roles: Roles;
  let server: ConsoleProcess;
  let browser: Browser;
  beforeAll(async () => {
    db = await createTestDatabase();
    roles = await createRoles(db);
    server = await startConsoleProcess(db.url);
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await server?.close();
    await roles?.drop();
    await db?.drop();
    await killAll();
  });

  /** A login through the form fetched earlier (its session's cookie and CSRF token): the status. */
  async function postLogin(form: { cookie: string; csrf: string }, user: string, password = roles.password): Promise<number> {
    const r = await fetch(`${server.url}/login`, {
      method: 'POST', redirect: 'manual', headers: { cookie: form.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: form.csrf, user, password }),
    });
    await r.text();
    return r.status;
  }

  it('logs a refused login by its user name only when that is a role: a password typed into the user field stays out of the log', async () => {
    const typedAsUser = `S3cr3t-CONSOLE-${Date.now()}`;
    expect(await postLogin(await loginForm(server.url), typedAsUser, 'whatever')).toBe(401);
    // A role that may not log in (the test server trusts every password of a role that may).
    expect(await postLogin(await loginForm(server.url), 'pg_monitor', 'whatever')).toBe(401);
    await server.proc.waitForLine(/login refused for "pg_monitor"/, { timeoutMs: 10_000 });
    expect(server.proc.lines.some((l) => /login refused for a user name that is no role \(not logged\)/.test(l))).toBe(true);
    expect(server.proc.lines.filter((l) => l.includes(typedAsUser))).toEqual([]);
  });

  it('forgets the oldest login forms past the ceiling, and the user signed in before them stays signed in', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${server.url}/login`);
    await page.getByLabel('User name').fill(roles.clerk);
    await page.getByLabel('Password').fill(roles.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(/\/jobs/);

    const oldest = await loginForm(server.url);
    // More login-page fetches than the ceiling: each leaves a session; the oldest must go.
    for (let i = 0; i < DEFAULT_SESSION_LIMITS.anonymous.max + 50; i++) {
      const r = await fetch(`${server.url}/login`);
      expect(r.status).toBe(200);
      await r.text();
    }
    const newest = await loginForm(server.url);
    // The oldest form's session is gone, so its CSRF token is worth nothing; the newest logs in.
    expect(await postLogin(oldest, roles.other)).toBe(403);
    expect(await postLogin(newest, roles.other)).toBe(303);

    // The user signed in before the flood still sees the job list, not the login page.
    await page.goto(`${server.url}/jobs`);
    expect(page.url()).toMatch(/\/jobs$/);
    await expect(page.getByRole('button', { name: 'Log out' }).isVisible()).resolves.toBe(true);
    await ctx.close();
  }, 120_000);
});
