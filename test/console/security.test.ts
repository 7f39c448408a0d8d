import { runXt } from '../support/proc';
import { waitFor } from '../support/wait';
import { loggedIn, screenshot, startConsoleProcess, startFixture, stopFixture, type ConsoleFixture } from './harness';

const f = {} as ConsoleFixture;

beforeAll(async () => {
  await startFixture(f);
});
afterAll(async () => {
  await stopFixture(f);
});

async function configGet(): Promise<Record<string, unknown>> {
  const r = await runXt(['--database-url', f.db.url, 'config', 'get', '--json']);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

test('an administrator changes each setting on the Configure screen; `xtconnect config get` reads the new values', async () => {
  const { ctx, page } = await loggedIn(f, f.roles.admin);
  try {
    await page.goto(`${f.server.url}/settings`);
    await page.getByLabel('xTuple Connect Enabled').uncheck();
    await page.getByLabel('Default From Email Address').fill('erp@example.com');
    await page.getByLabel(/Purge Jobs after/).fill('45');
    await page.getByLabel('Automatically Create Contacts During Email Sync').check();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('.flash.ok').waitFor();
    expect(await configGet()).toMatchObject({
      EnableBatchManager: false, DefaultBatchFromEmailAddress: 'erp@example.com', BatchManagerPurgeDays: 45, EmailSyncCreateContacts: true,
    });
    // And back, so each value is seen to change both ways.
    await page.getByLabel('xTuple Connect Enabled').check();
    await page.getByLabel('Default From Email Address').fill('');
    await page.getByLabel(/Purge Jobs after/).fill('0');
    await page.getByLabel('Automatically Create Contacts During Email Sync').uncheck();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('.flash.ok').waitFor();
    expect(await configGet()).toMatchObject({
      EnableBatchManager: true, DefaultBatchFromEmailAddress: '', BatchManagerPurgeDays: 0, EmailSyncCreateContacts: false,
    });
  } finally {
    await ctx.close();
  }
});

test('exclusion list: add, refuse a malformed pattern, test an address, remove', async () => {
  const { ctx, page } = await loggedIn(f, f.roles.admin);
  try {
    await page.goto(`${f.server.url}/settings`);
    await page.getByLabel('New pattern').fill('*.Example.org');
    await page.getByRole('button', { name: 'Add' }).click();
    expect(await page.locator('.flash.ok').textContent()).toContain('Added *.example.org');
    expect((await configGet()).ExcludeContactsMatching).toEqual(['*.example.org']);

    await page.getByLabel('New pattern').fill('bob@@example.com');
    await page.getByRole('button', { name: 'Add' }).click();
    expect(await page.locator('.flash.bad').textContent()).toContain('has more than one "@"');
    expect((await configGet()).ExcludeContactsMatching).toEqual(['*.example.org']);

    await page.getByLabel('Test an address against the list').fill('ann@mail.example.org');
    await page.getByRole('button', { name: 'Test' }).click();
    expect(await page.locator('#test-result').textContent()).toContain('is excluded (matches *.example.org)');
    await page.getByLabel('Test an address against the list').fill('ann@example.com');
    await page.getByRole('button', { name: 'Test' }).click();
    expect(await page.locator('#test-result').textContent()).toContain('matches no pattern');
    await screenshot(page, 'console-settings');

    await page.getByRole('button', { name: 'Remove *.example.org' }).click();
    expect(await page.locator('.flash.ok').textContent()).toContain('Removed *.example.org');
    expect((await configGet()).ExcludeContactsMatching).toEqual([]);
  } finally {
    await ctx.close();
  }
});

test('a user who is not an administrator cannot open the settings or another user\'s job, and sees only their own jobs', async () => {
  const { rows: made } = await f.db.pool.query<{ batch_id: number; batch_user: string }>(
    `INSERT INTO xtbatch.batch (batch_action, batch_user, batch_subject, batch_scheduled)
     VALUES ('Email', $1, 'mine', localtimestamp + interval '1 day'), ('Email', $2, 'theirs', localtimestamp + interval '1 day')
     RETURNING batch_id, batch_user`,
    [f.roles.clerk, f.roles.other]);
  const rows = [{ mine: made.find((r) => r.batch_user === f.roles.clerk)!.batch_id, theirs: made.find((r) => r.batch_user === f.roles.other)!.batch_id }];
  const { mine, theirs } = rows[0]!;
  const { ctx, page } = await loggedIn(f, f.roles.clerk);
  try {
    expect(await page.getByRole('link', { name: 'Settings' }).count()).toBe(0);
    const settings = await page.goto(`${f.server.url}/settings`);
    expect(settings!.status()).toBe(403);
    const other = await page.goto(`${f.server.url}/jobs/${theirs}`);
    expect(other!.status()).toBe(404);
    const own = await page.goto(`${f.server.url}/jobs/${mine}`);
    expect(own!.status()).toBe(200);
    await page.goto(`${f.server.url}/jobs`);
    expect(await page.locator(`tr[data-id="${mine}"]`).count()).toBe(1);
    expect(await page.locator(`tr[data-id="${theirs}"]`).count()).toBe(0);
    // Nor can a form post act on another user's job or change a setting.
    const token = await page.locator('input[name=_csrf]').first().getAttribute('value');
    const cancel = await page.request.post(`${f.server.url}/jobs/${theirs}/cancel`, { form: { _csrf: token! } });
    expect(cancel.status()).toBe(404);
    const set = await page.request.post(`${f.server.url}/settings`, { form: { _csrf: token!, EnableBatchManager: 't', BatchManagerPurgeDays: '1' } });
    expect(set.status()).toBe(403);
    const { rows: still } = await f.db.pool.query(`SELECT state FROM xtbatch.job WHERE batch_id = $1`, [theirs]);
    expect(still[0].state).toBe('scheduled');
    expect((await configGet()).BatchManagerPurgeDays).not.toBe(1);
  } finally {
    await ctx.close();
  }
});

test('a POST without the CSRF token, or with a wrong one, is refused and changes nothing', async () => {
  const { rows } = await f.db.pool.query<{ batch_id: number }>(
    `INSERT INTO xtbatch.batch (batch_action, batch_user, batch_scheduled) VALUES ('Email', $1, localtimestamp + interval '1 day') RETURNING batch_id`,
    [f.roles.admin]);
  const id = rows[0]!.batch_id;
  const { ctx, page } = await loggedIn(f, f.roles.admin);
  try {
    const none = await page.request.post(`${f.server.url}/jobs/${id}/cancel`, { form: {} });
    expect(none.status()).toBe(403);
    const wrong = await page.request.post(`${f.server.url}/jobs/${id}/cancel`, { form: { _csrf: 'not-the-token' } });
    expect(wrong.status()).toBe(403);
    const setting = await page.request.post(`${f.server.url}/settings/exclusions/add`, { form: { pattern: 'evil.example' } });
    expect(setting.status()).toBe(403);
    const { rows: after } = await f.db.pool.query(`SELECT state FROM xtbatch.job WHERE batch_id = $1`, [id]);
    expect(after[0].state).toBe('scheduled');
    expect((await configGet()).ExcludeContactsMatching).toEqual([]);
  } finally {
    await ctx.close();
  }
});

test('a job whose subject and recipient are <script> shows them as text; no script runs', async () => {
  const evil = `<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">`;
  const { rows } = await f.db.pool.query<{ batch_id: number }>(
    `INSERT INTO xtbatch.batch (batch_action, batch_user, batch_subject, batch_email, batch_scheduled)
     VALUES ('Email', $1, $2, $2, localtimestamp + interval '1 day') RETURNING batch_id`, [f.roles.admin, evil]);
  const id = rows[0]!.batch_id;
  const { ctx, page } = await loggedIn(f, f.roles.admin);
  try {
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(`${f.server.url}/jobs`);
    expect(await page.locator(`tr[data-id="${id}"]`).textContent()).toContain('<script>window.__pwned = 1</script>');
    await page.goto(`${f.server.url}/jobs/${id}`);
    expect(await page.locator('#job-main').textContent()).toContain('<script>window.__pwned = 1</script>');
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    expect(await page.locator('#job-main script, #job-main img').count()).toBe(0);
    expect(dialogs).toEqual([]);
  } finally {
    await ctx.close();
  }
});

test('the database not asking for a password is refused unless allowed; login attempts are rate-limited', async () => {
  const strict = await startConsoleProcess(f.db.url, { allowPasswordless: false, loginRateLimit: 3 });
  const ctx = await f.browser.newContext();
  try {
    const page = await ctx.newPage();
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      await page.goto(`${strict.url}/login`);
      await page.getByLabel('User name').fill(f.roles.admin);
      await page.getByLabel('Password').fill('anything');
      const [resp] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/login') && r.request().method() === 'POST'), page.getByRole('button', { name: 'Log in' }).click()]);
      statuses.push(resp.status());
      if (i === 0) expect(await page.locator('.flash.bad').textContent()).toContain('without checking a password');
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    expect(page.url()).toContain('/login');
  } finally {
    await ctx.close();
    await strict.close();
  }
});

test('responses carry a CSP without inline script and HttpOnly SameSite session cookies', async () => {
  const { ctx, page } = await loggedIn(f, f.roles.admin);
  try {
    const resp = await page.goto(`${f.server.url}/jobs`);
    const csp = resp!.headers()['content-security-policy']!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    const cookie = (await ctx.cookies()).find((c) => c.name === 'xtc_session')!;
    expect(cookie.httpOnly).toBe(true);
    expect(cookie.sameSite).toBe('Strict');
    await waitFor('the live stream', () => page.getByText('Live', { exact: true }).isVisible());
    // Behind a TLS reverse proxy on the same machine the cookie is Secure too.
    const proxied = await fetch(`${f.server.url}/login`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(proxied.headers.get('set-cookie')).toMatch(/xtc_session=.*; Secure/);
    const plain = await fetch(`${f.server.url}/login`);
    expect(plain.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict$/);
  } finally {
    await ctx.close();
  }
});
