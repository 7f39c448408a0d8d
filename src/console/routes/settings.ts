import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { normaliseSetting } from '../../cli/commands/config';
import { addExclusion, readSettings, removeExclusion, SETTING_NAMES, writeSetting } from '../../db/queries/settings';
import { ConfigError } from '../../errors';
import { matchesAny, patternProblem } from '../../settings/patterns';
import { sendPage, setFlash, str, takeFlash, viewerOf, type ConsoleContext } from '../context';
import { html } from '../html';
import { csrfField, page } from '../layout';

type Body = Record<string, string | undefined>;

/** Settings are the administrators' (the ERP's own screen is behind a privilege too). */
export function requireAdmin(req: FastifyRequest, reply: FastifyReply): FastifyReply | null {
  if (req.session.admin) return null;
  const v = viewerOf(req, reply);
  return sendPage(reply, page({ title: 'Not allowed', viewer: v, body: html`<h1>Administrators only</h1><p>Only members of xtconnect_admin (and superusers) may see and change this. <a href="/jobs">Back to your jobs</a></p>` }), 403);
}

export function settingsRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  app.get<{ Querystring: Body }>('/settings', async (req, reply) => {
    const denied = requireAdmin(req, reply);
    if (denied) return denied;
    const v = viewerOf(req, reply);
    const s = await readSettings(ctx.pool);
    const testAddr = str(req.query.test, 320).trim();
    const tested = testAddr ? matchesAny(testAddr, s.exclusions) : null;
    const matching = testAddr ? s.exclusions.filter((p) => matchesAny(testAddr, [p])) : [];
    const check = (name: string, on: boolean) => html`<input type="checkbox" id="s-${name}" name="${name}" value="t"${on ? html` checked` : ''}>`;
    const body = html`<h1>Configure xTuple Connect</h1>
<div class="grid2">
<form class="card" method="post" action="/settings" aria-labelledby="h-conf">${csrfField(v)}
<h2 id="h-conf" class="mt0">Settings</h2>
<div class="check mb-m">${check(SETTING_NAMES.enabled, s.enabled)}<label for="s-${SETTING_NAMES.enabled}">xTuple Connect Enabled</label></div>
<p class="muted note tuck">When off, no job can be submitted. ERP users should log out and in after enabling.</p>
<div class="mb-m"><label for="s-${SETTING_NAMES.defaultFrom}">Default From Email Address</label>
<input type="email" id="s-${SETTING_NAMES.defaultFrom}" name="${SETTING_NAMES.defaultFrom}" value="${s.defaultFrom ?? ''}" maxlength="320"></div>
<div class="mb-m"><label for="s-${SETTING_NAMES.purgeDays}">Purge Jobs after (days; 0 for never)</label>
<input type="number" min="0" max="36500" id="s-${SETTING_NAMES.purgeDays}" name="${SETTING_NAMES.purgeDays}" value="${s.purgeDays ?? 0}" required></div>
<div class="check mb-l">${check(SETTING_NAMES.createContacts, s.createContacts)}<label for="s-${SETTING_NAMES.createContacts}">Automatically Create Contacts During Email Sync</label></div>
<button class="primary" type="submit">Save</button>
</form>
<section class="card" aria-labelledby="h-excl">
<h2 id="h-excl" class="mt0">Exclude Contacts Matching</h2>
<p class="muted note">No contact is created for an address that matches: bob@example.com, example.com, *@example.com, *.example.org, noreply@*.</p>
${s.exclusions.length ? html`<table><thead><tr><th scope="col">Pattern</th><th scope="col"><span class="sr">Remove</span></th></tr></thead><tbody>${s.exclusions.map((p) => html`<tr><td>${p}</td><td class="right">
<form class="inline" method="post" action="/settings/exclusions/remove">${csrfField(v)}<input type="hidden" name="pattern" value="${p}"><button type="submit" class="danger" aria-label="Remove ${p}">Remove</button></form></td></tr>`)}</tbody></table>` : html`<p class="muted">The list is empty.</p>`}
<form method="post" action="/settings/exclusions/add" class="row mt-m">${csrfField(v)}
<div><label for="x-new">New pattern</label><input type="text" id="x-new" name="pattern" required maxlength="320" autocomplete="off"></div>
<div class="fixed"><button type="submit">Add</button></div></form>
<form method="get" action="/settings" class="row mt-l">
<div><label for="x-test">Test an address against the list</label><input type="email" id="x-test" name="test" value="${testAddr}" maxlength="320"></div>
<div class="fixed"><button type="submit">Test</button></div></form>
${tested === null ? '' : html`<p role="status" id="test-result" class="${tested ? 's-failed' : 's-done'}">${testAddr} ${tested ? html`is excluded (matches ${matching.join(', ')}): no contact would be created.` : 'matches no pattern: a contact may be created.'}</p>`}
</section>
</div>`;
    return sendPage(reply, page({ title: 'Settings', viewer: v, current: 'settings', flash: takeFlash(req), body }));
  });

  app.post<{ Body: Body }>('/settings', async (req, reply) => {
    const denied = requireAdmin(req, reply);
    if (denied) return denied;
    const b = req.body ?? {};
    // Unchecked boxes are absent from a form post: absent is false.
    const wanted: Array<[string, string]> = [
      [SETTING_NAMES.enabled, b[SETTING_NAMES.enabled] ? 'true' : 'false'],
      [SETTING_NAMES.defaultFrom, str(b[SETTING_NAMES.defaultFrom], 320)],
      [SETTING_NAMES.purgeDays, str(b[SETTING_NAMES.purgeDays], 10)],
      [SETTING_NAMES.createContacts, b[SETTING_NAMES.createContacts] ? 'true' : 'false'],
    ];
    let values: Array<[string, string]>;
    try {
      // The checks of `xtconnect config set`, all before anything is written.
      values = wanted.map(([name, value]) => [name, normaliseSetting(name, value)]);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      setFlash(req, false, err.message);
      return reply.redirect('/settings', 303);
    }
    const before = await readSettings(ctx.pool);
    const current: Record<string, string> = {
      [SETTING_NAMES.enabled]: before.enabled ? 't' : 'f', [SETTING_NAMES.defaultFrom]: before.defaultFrom ?? '',
      [SETTING_NAMES.purgeDays]: String(before.purgeDays ?? 0), [SETTING_NAMES.createContacts]: before.createContacts ? 't' : 'f',
    };
    const changed = values.filter(([name, value]) => current[name] !== value);
    for (const [name, value] of changed) await writeSetting(ctx.pool, name, value);
    ctx.log.info(`console: ${req.session.user} changed ${changed.map(([n, x]) => `${n}=${x}`).join(', ') || 'nothing'}`, { scope: 'console' });
    setFlash(req, true, changed.length ? `Saved: ${changed.map(([n]) => n).join(', ')}.` : 'Nothing changed.');
    return reply.redirect('/settings', 303);
  });

  app.post<{ Body: Body }>('/settings/exclusions/add', async (req, reply) => {
    const denied = requireAdmin(req, reply);
    if (denied) return denied;
    const pattern = str(req.body?.pattern, 320);
    const problem = patternProblem(pattern);
    if (problem) {
      setFlash(req, false, `Pattern "${pattern}" ${problem}; examples: bob@example.com, example.com, *@example.com, *.example.org, noreply@*`);
      return reply.redirect('/settings', 303);
    }
    const p = pattern.trim().toLowerCase();
    const added = await addExclusion(ctx.pool, p);
    setFlash(req, true, added ? `Added ${p}.` : `${p} was already in the list.`);
    return reply.redirect('/settings', 303);
  });

  app.post<{ Body: Body }>('/settings/exclusions/remove', async (req, reply) => {
    const denied = requireAdmin(req, reply);
    if (denied) return denied;
    const p = str(req.body?.pattern, 320).trim().toLowerCase();
    const removed = await removeExclusion(ctx.pool, p);
    setFlash(req, removed, removed ? `Removed ${p}.` : `${p} is not in the list.`);
    return reply.redirect('/settings', 303);
  });
}
