/** A console client over plain HTTP (tests, and bench/console.ts, consoleMemory.ts): the login form's cookie and CSRF token, and a login. */

/** GET /login: the new session's cookie and the form's CSRF token. */
export async function loginForm(base: string): Promise<{ cookie: string; csrf: string }> {
  const page = await fetch(`${base}/login`);
  const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
  return { cookie, csrf };
}

/** Logs in through the form; the signed-in session's cookie. */
export async function login(base: string, user: string, password: string): Promise<string> {
  const { cookie, csrf } = await loginForm(base);
  const r = await fetch(`${base}/login`, {
    method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, user, password, next: '/jobs' }),
  });
  if (r.status !== 303) throw new Error(`login failed: ${r.status}`);
  return r.headers.get('set-cookie')!.split(';')[0]!;
}

/** A page's CSRF token (the forms on signed-in pages carry one). */
export function csrfOf(html: string): string | null {
  return /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? null;
}
