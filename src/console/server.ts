import crypto from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyFormbody from '@fastify/formbody';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifyHelmet from '@fastify/helmet';
import type { Config } from '../config';
import type { Pool } from '../db/pool';
import { errorMessage } from '../errors';
import type { Logger } from '../log';
import { CSS, CSS_PATH, JS, JS_PATH } from './assets';
import { checkLogin } from './auth';
import { sendPage, str, takeFlash, type ConsoleContext } from './context';
import { html } from './html';
import { page } from './layout';
import { SESSION_HOURS, SessionStore, type SessionLimits } from './sessionStore';
import { JobFeed } from './live';
import { daemonRoutes } from './routes/daemons';
import { jobRoutes } from './routes/jobs';
import { scheduleRoutes } from './routes/schedules';
import { settingsRoutes } from './routes/settings';
import { viewerZone } from './time';

export interface ConsoleOptions {
  cfg: Config;
  pool: Pool;
  log: Logger;
  /** The database the pool uses; login checks and the live-update LISTEN connect there. */
  url: string | null;
  /** Login attempts per client address per minute (default 10). */
  loginRateLimit?: number;
  /** See LoginCheckOptions.allowPasswordless; default from console.allowPasswordlessLogin. */
  allowPasswordless?: boolean;
  /** How many sessions are kept, and for how long (src/console/sessionStore.ts); the defaults there. */
  sessionLimits?: SessionLimits;
}

export interface ConsoleServer {
  app: FastifyInstance;
  feed: JobFeed;
  sessions: SessionStore;
  /** "http://host:port" once listening. */
  url: string;
  close(): Promise<void>;
}

const PUBLIC = new Set(['/login', '/healthz', CSS_PATH, JS_PATH]);

/**
 * The web console: server-rendered pages (every value escaped by src/console/html.ts), one stylesheet and one
 * small script, sessions in HttpOnly SameSite cookies, CSRF tokens on every change, a CSP without inline script.
 */
export async function buildConsole(o: ConsoleOptions): Promise<{ app: FastifyInstance; feed: JobFeed; sessions: SessionStore }> {
  const feed = new JobFeed(o.url, o.log);
  const sessions = new SessionStore(o.sessionLimits);
  const ctx: ConsoleContext = { cfg: o.cfg, pool: o.pool, log: o.log, feed, url: o.url };
  // A reverse proxy on this machine may say the request came over HTTPS (X-Forwarded-Proto), which makes the
  // session cookie Secure; a proxy elsewhere is not trusted with that.
  const app = Fastify({ logger: false, trustProxy: ['127.0.0.1', '::1'], bodyLimit: 256 * 1024 });
  app.addHook('onClose', async () => sessions.close());

  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        objectSrc: ["'none'"],
      },
    },
    // TLS is the reverse proxy's business (docs/console.md); HSTS from a plain-HTTP loopback listener would be wrong.
    hsts: false,
  });
  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    // Sessions live in this process's memory, bounded (sessionStore.ts): a restart logs everyone out, which is
    // acceptable for a console.
    store: sessions,
    secret: crypto.randomBytes(32).toString('hex'),
    cookieName: 'xtc_session',
    // Not secure: 'auto', which would also weaken SameSite to Lax over plain HTTP; Secure is added below instead.
    cookie: { httpOnly: true, sameSite: 'strict', secure: false, path: '/', maxAge: SESSION_HOURS * 3600 * 1000 },
    saveUninitialized: false,
    rolling: true,
  });
  await app.register(fastifyCsrf, { sessionPlugin: '@fastify/session' });
  // Behind a TLS reverse proxy on this machine (X-Forwarded-Proto: https) the session cookie is Secure as well.
  app.addHook('onSend', async (req, reply) => {
    if (req.protocol !== 'https') return;
    const set = reply.getHeader('set-cookie');
    if (set === undefined) return;
    const list = (Array.isArray(set) ? set : [String(set)]).map((c) => (/;\s*secure/i.test(c) ? c : `${c}; Secure`));
    reply.header('set-cookie', list);
  });
  await app.register(fastifyFormbody);
  await app.register(fastifyRateLimit, { global: false });

  // How long the server spent on a request (Server-Timing, shown in the browser's developer tools; bench/console.ts
  // reads it).
  const started = new WeakMap<FastifyRequest, bigint>();
  app.addHook('onRequest', async (req) => {
    started.set(req, process.hrtime.bigint());
  });
  app.addHook('onSend', async (req, reply) => {
    const t0 = started.get(req);
    if (t0 !== undefined) reply.header('server-timing', `app;dur=${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(2)}`);
  });
  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0]!;
    if (PUBLIC.has(path) || req.session.user) return;
    if (req.method === 'GET' && !path.startsWith('/events') && !/[?&]fragment=/.test(req.url)) {
      return reply.redirect(`/login?next=${encodeURIComponent(req.url)}`, 303);
    }
    return reply.code(401).type('text/plain').send('log in first');
  });
  // Every state-changing request carries the session's CSRF token (a hidden _csrf field in each form).
  app.addHook('preHandler', (req, reply, done) => {
    if (req.method === 'GET' || req.method === 'HEAD') return done();
    app.csrfProtection(req, reply, done);
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) o.log.error(`console: ${req.method} ${req.url.split('?')[0]}: ${errorMessage(err)}`, { scope: 'console' });
    const message = err.code === 'FST_CSRF_INVALID_TOKEN' || err.code === 'FST_CSRF_MISSING_SECRET'
      ? 'The form was stale or did not come from this console (CSRF check failed). Go back, reload the page and try again.'
      : status === 429 ? 'Too many login attempts; wait a minute and try again.'
      : status === 500 ? 'Something went wrong on the server; the log says what.' : errorMessage(err);
    const text = page({ title: 'Error', viewer: null, body: html`<h1>${status === 403 ? 'Refused' : 'Error'}</h1><p>${message}</p><p><a href="/jobs">Back to the jobs</a></p>` });
    return sendPage(reply, text, status);
  });

  app.get(CSS_PATH, (_req, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=31536000, immutable').send(CSS));
  app.get(JS_PATH, (_req, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=31536000, immutable').send(JS));
  app.get('/healthz', (_req, reply) => reply.type('text/plain').send('ok\n'));
  app.get('/', (_req, reply) => reply.redirect('/jobs', 303));

  const loginPage = (req: FastifyRequest, reply: FastifyReply, message: string | null, user = '', status = 200) => {
    const next = safeNext(str((req.query as Record<string, string>).next ?? (req.body as Record<string, string> | undefined)?.next, 500));
    const zone = viewerZone(req.cookies.xtc_tz);
    const body = html`<div class="login card">
<h1>Log in</h1>
<p class="muted">Use your database (xTuple) user name and password.</p>
${message ? html`<div class="flash bad" role="alert">${message}</div>` : ''}
<form method="post" action="/login">
<input type="hidden" name="_csrf" value="${reply.generateCsrf()}">
<input type="hidden" name="next" value="${next}">
<div><label for="l-user">User name</label><input id="l-user" type="text" name="user" autocomplete="username" required autofocus value="${user}" maxlength="63"></div>
<div><label for="l-pass">Password</label><input id="l-pass" type="password" name="password" autocomplete="current-password" required maxlength="1000"></div>
<button class="primary" type="submit">Log in</button>
</form>
<p class="zone">Times will be shown in ${zone}.</p>
</div>`;
    return sendPage(reply, page({ title: 'Log in', viewer: null, body }), status);
  };

  app.get('/login', (req, reply) => (req.session.user ? reply.redirect('/jobs', 303) : loginPage(req, reply, takeFlash(req)?.message ?? null)));
  app.post<{ Body: Record<string, string | undefined> }>('/login', {
    config: { rateLimit: { max: o.loginRateLimit ?? o.cfg.console?.loginAttemptsPerMinute ?? 10, timeWindow: '1 minute' } },
  }, async (req, reply) => {
    const user = str(req.body?.user, 63).trim();
    const result = await checkLogin(user, str(req.body?.password, 1000), {
      url: o.url,
      allowPasswordless: o.allowPasswordless ?? o.cfg.console?.allowPasswordlessLogin ?? false,
    });
    if (!result.ok) {
      // The name is logged only when it is a role: a password typed into the user field must not reach the log.
      const { rows: role } = user ? await o.pool.query(`SELECT 1 FROM pg_roles WHERE rolname = $1`, [user]).catch(() => ({ rows: [] })) : { rows: [] };
      o.log.info(`console: login refused for ${role.length ? JSON.stringify(user) : 'a user name that is no role (not logged)'} from ${req.ip}`, { scope: 'console' });
      return loginPage(req, reply, result.reason ?? 'Wrong user name or password.', user, 401);
    }
    // A fresh session ID at login, so an ID planted before it (session fixation) is worth nothing.
    await req.session.regenerate();
    req.session.user = result.user!;
    req.session.admin = result.admin!;
    o.log.info(`console: ${result.user} logged in${result.admin ? ' (administrator)' : ''} from ${req.ip}`, { scope: 'console' });
    return reply.redirect(safeNext(str(req.body?.next, 500)), 303);
  });
  app.post('/logout', async (req, reply) => {
    await req.session.destroy();
    return reply.redirect('/login', 303);
  });

  // Server-sent events: "jobs" with the changed IDs (or "all"); the page fetches what it shows again.
  app.get('/events', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // nginx would otherwise buffer the stream (docs/console.md).
      'x-accel-buffering': 'no',
    });
    // Each event goes out at once, not held back to be merged with the next (Nagle).
    req.raw.socket.setNoDelay(true);
    res.write('retry: 3000\n: connected\n\n');
    const unsubscribe = feed.subscribe((ids) => {
      res.write(`event: jobs\ndata: ${ids === 'all' ? 'all' : ids.join(',')}\n\n`);
    });
    // A comment now and then keeps proxies from closing an idle stream.
    const ping = setInterval(() => res.write(': ping\n\n'), 25_000);
    const end = () => {
      clearInterval(ping);
      unsubscribe();
    };
    req.raw.on('close', end);
    res.on('error', end);
  });

  jobRoutes(app, ctx);
  scheduleRoutes(app, ctx);
  settingsRoutes(app, ctx);
  daemonRoutes(app, ctx);
  return { app, feed, sessions };
}

/** Only a path on this console: never another site (an open redirect through the login form). */
function safeNext(next: string): string {
  return /^\/(?![/\\])[^\s]*$/.test(next) && !next.startsWith('/login') ? next : '/jobs';
}

/** Builds the console and listens; the live-update connection is started in the background. */
export async function startConsole(o: ConsoleOptions & { host: string; port: number }): Promise<ConsoleServer> {
  const { app, feed, sessions } = await buildConsole(o);
  await feed.start();
  try {
    await app.listen({ host: o.host, port: o.port });
  } catch (err) {
    await feed.stop();
    throw err;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  const url = `http://${host}:${port}`;
  o.log.info(`console: listening on ${url}`, { scope: 'console' });
  return {
    app,
    feed,
    sessions,
    url,
    async close() {
      await feed.stop();
      // SSE streams stay open until their browsers leave; do not let them hold the shutdown.
      app.server.closeAllConnections?.();
      await app.close();
    },
  };
}
