import type { FastifyInstance } from 'fastify';
import { createSchedule, listSchedules, pauseSchedule, removeSchedule, resumeSchedule, type JobTemplate, type ScheduleRow } from '../../db/queries/schedules';
import type { MissedPolicy } from '../../schedule/plan';
import { formatInZone, parseEvery, ScheduleError, upcoming, validateRule, type Rule } from '../../schedule/rule';
import { intParam, sendPage, setFlash, str, takeFlash, viewerOf, type ConsoleContext } from '../context';
import { html, type Html } from '../html';
import { csrfField, page, type Viewer } from '../layout';
import { parseLocalInput, timeTag } from '../time';
import { requireAdmin } from './settings';

type Body = Record<string, string | undefined>;

const FIELDS = ['name', 'action', 'kind', 'cron', 'every', 'tz', 'start', 'end', 'count', 'missed', 'to', 'subject', 'body', 'parameter'] as const;

function stateOf(r: ScheduleRow): string {
  return r.schedule_removed ? 'removed' : r.schedule_paused ? 'paused' : r.schedule_next ? 'active' : 'ended';
}

function ruleText(r: ScheduleRow): string {
  if (r.schedule_cron) return `cron "${r.schedule_cron}"`;
  const unit = r.schedule_every_n === 1 ? r.schedule_every_unit?.replace(/s$/, '') : r.schedule_every_unit;
  return `every ${r.schedule_every_n} ${unit}`;
}

interface Draft {
  form: Record<string, string>;
  rule: Rule;
  action: string;
  name: string | null;
  maxCount: number | null;
  missed: MissedPolicy;
  job: JobTemplate;
}

/** The form as a series, with the same checks as `schedule add`; throws ScheduleError with a sentence. */
function readDraft(b: Body, viewerZone: string): Draft {
  const form: Record<string, string> = {};
  for (const f of FIELDS) form[f] = str(b[f], f === 'body' ? 10_000 : 300).trim();
  form.kind = form.kind === 'every' ? 'every' : 'cron';
  form.tz ||= viewerZone;
  form.missed = ['once', 'all', 'skip'].includes(form.missed!) ? form.missed! : 'once';
  if (!form.action) throw new ScheduleError('an action is needed (e.g. Email, RunReport, ServerMaintenance)');
  const zone = form.tz!;
  const start = form.start ? parseLocalInput(form.start, zone) : new Date();
  if (!start) throw new ScheduleError(`start "${form.start}" is not a date and time`);
  const end = form.end ? parseLocalInput(form.end, zone) : null;
  if (form.end && !end) throw new ScheduleError(`end "${form.end}" is not a date and time`);
  const rule: Rule = {
    cron: form.kind === 'cron' ? form.cron || null : null,
    every: form.kind === 'every' ? (form.every ? parseEvery(form.every) : null) : null,
    timezone: zone,
    start,
    end,
  };
  if (form.kind === 'cron' && !rule.cron) throw new ScheduleError('write a cron expression, such as "30 2 * * *" for 02:30 every day');
  if (form.kind === 'every' && !rule.every) throw new ScheduleError('write an interval, such as 15m, 2h or 1d');
  validateRule(rule);
  let maxCount: number | null = null;
  if (form.count) {
    maxCount = intParam(form.count);
    if (maxCount === null || maxCount < 1) throw new ScheduleError(`at most how many times must be a whole number of at least 1 (got "${form.count}")`);
  }
  const job: JobTemplate = {
    email: form.to || null, subject: form.subject || null, body: form.body || null, parameter: form.parameter || null, params: [],
  };
  return { form, rule, action: form.action!, name: form.name || null, maxCount, missed: form.missed as MissedPolicy, job };
}

function addForm(v: Viewer, form: Record<string, string>, preview: Html | ''): Html {
  const f = (k: string) => form[k] ?? '';
  const opt = (value: string, label: string, cur: string) => html`<option value="${value}"${value === cur ? html` selected` : ''}>${label}</option>`;
  return html`<form class="card" method="post" action="/schedules/preview" aria-labelledby="h-add" id="add">${csrfField(v)}
<h2 id="h-add" class="mt0">Add a series</h2>
<div class="row">
<div><label for="n-action">Action</label><input id="n-action" type="text" name="action" required value="${f('action')}" placeholder="Email, RunReport, ServerMaintenance"></div>
<div><label for="n-name">Name (optional, unique)</label><input id="n-name" type="text" name="name" value="${f('name')}"></div>
</div>
<div class="row mt-s">
<div><label for="n-kind">Repeats by</label><select id="n-kind" name="kind">${opt('cron', 'cron expression', f('kind'))}${opt('every', 'interval', f('kind'))}</select></div>
<div><label for="n-cron">Cron expression</label><input id="n-cron" type="text" name="cron" value="${f('cron')}" placeholder="30 2 * * *"></div>
<div><label for="n-every">Interval</label><input id="n-every" type="text" name="every" value="${f('every')}" placeholder="15m, 2h, 1d"></div>
<div><label for="n-tz">Time zone (IANA)</label><input id="n-tz" type="text" name="tz" value="${f('tz') || v.zone}"></div>
</div>
<div class="row mt-s">
<div><label for="n-start">Start (in that zone; empty: now)</label><input id="n-start" type="datetime-local" name="start" value="${f('start')}"></div>
<div><label for="n-end">End (optional)</label><input id="n-end" type="datetime-local" name="end" value="${f('end')}"></div>
<div><label for="n-count">At most this many times</label><input id="n-count" type="number" min="1" name="count" value="${f('count')}"></div>
<div><label for="n-missed">Missed while no daemon ran</label><select id="n-missed" name="missed">${opt('once', 'run the latest once', f('missed'))}${opt('all', 'run them all (up to 10)', f('missed'))}${opt('skip', 'skip them', f('missed'))}</select></div>
</div>
<div class="row mt-s">
<div><label for="n-to">To (Email) or notice address</label><input id="n-to" type="text" name="to" value="${f('to')}"></div>
<div><label for="n-subject">Subject</label><input id="n-subject" type="text" name="subject" value="${f('subject')}"></div>
<div><label for="n-parameter">Parameter (e.g. report name)</label><input id="n-parameter" type="text" name="parameter" value="${f('parameter')}"></div>
</div>
<div class="mt-s"><label for="n-body">Body</label><textarea id="n-body" name="body">${f('body')}</textarea></div>
${preview}
<div class="row mt-m"><div class="fixed"><button type="submit">Check and preview</button></div>
${preview ? html`<div class="fixed"><button class="primary" type="submit" formaction="/schedules">Save series</button></div>` : ''}</div>
</form>`;
}

export function scheduleRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  const listPage = async (v: Viewer, flash: { ok: boolean; message: string } | null, form: Record<string, string>, preview: Html | '') => {
    const rows = await listSchedules(ctx.pool);
    const now = new Date();
    const body = html`<h1>Schedules</h1>
<table class="jobs"><caption class="sr">Repeating series</caption>
<thead><tr><th scope="col">ID</th><th scope="col">Name</th><th scope="col">Action</th><th scope="col">State</th><th scope="col">Runs</th><th scope="col">Next (series zone)</th><th scope="col">Next (yours)</th><th scope="col">Rule</th>${v.admin ? html`<th scope="col"><span class="sr">Change</span></th>` : ''}</tr></thead>
<tbody>${rows.length ? rows.map((r) => {
      const st = stateOf(r);
      const next = r.schedule_next && !r.schedule_paused ? r.schedule_next : null;
      return html`<tr id="s-${r.schedule_id}" data-id="${r.schedule_id}">
<td class="num" data-label="ID">${r.schedule_id}</td><td data-label="Name">${r.schedule_name}${r.schedule_source === 'config' ? html` <span class="muted">(config file)</span>` : ''}</td>
<td data-label="Action">${r.schedule_action}</td><td data-label="State"><span class="badge s-${st}">${st}</span></td>
<td class="num" data-label="Runs">${r.schedule_count}${r.schedule_max_count ? ` / ${r.schedule_max_count}` : ''}</td>
<td data-label="Next (series zone)">${next ? formatInZone(next, r.schedule_timezone) : '–'}</td>
<td data-label="Next (yours)">${next ? timeTag(next, v.zone) : ''}</td>
<td data-label="Rule">${ruleText(r)} <span class="muted">${r.schedule_timezone}</span></td>
${v.admin ? html`<td data-label="Change" class="nowrap">
${r.schedule_paused ? html`<form class="inline" method="post" action="/schedules/${r.schedule_id}/resume">${csrfField(v)}<button type="submit">Resume</button></form>`
    : html`<form class="inline" method="post" action="/schedules/${r.schedule_id}/pause">${csrfField(v)}<button type="submit">Pause</button></form>`}
<form class="inline" method="post" action="/schedules/${r.schedule_id}/remove" data-confirm="Remove series ${r.schedule_id}? Its waiting occurrences are cancelled.">${csrfField(v)}<button type="submit" class="danger">Remove</button></form></td>` : ''}
</tr>`;
    }) : html`<tr><td colspan="9" class="muted">No series.</td></tr>`}</tbody></table>
<p class="muted note">Checked ${timeTag(now, v.zone)}. A series from the config file comes back when the daemon restarts unless it is removed there.</p>
${v.admin ? addForm(v, form, preview) : ''}`;
    return page({ title: 'Schedules', viewer: v, current: 'schedules', flash, body });
  };

  app.get('/schedules', async (req, reply) => {
    const v = viewerOf(req, reply);
    return sendPage(reply, await listPage(v, takeFlash(req), {}, ''));
  });

  app.post<{ Body: Body }>('/schedules/preview', async (req, reply) => {
    const denied = requireAdmin(req, reply);
    if (denied) return denied;
    const v = viewerOf(req, reply);
    let draft: Draft;
    try {
      draft = readDraft(req.body ?? {}, v.zone);
    } catch (err) {
      if (!(err instanceof ScheduleError)) throw err;
      const form: Record<string, string> = {};
      for (const f of FIELDS) form[f] = str(req.body?.[f], 10_000);
      return sendPage(reply, await listPage(v, { ok: false, message: `Not saved: ${err.message}` }, form, ''), 400);
    }
    const times = upcoming(draft.rule, new Date(), draft.maxCount === null ? 5 : Math.min(5, draft.maxCount));
    const preview = html`<section aria-labelledby="h-prev" class="mt-l"><h3 id="h-prev" class="h3">The next ${times.length} time(s)</h3>
<ol id="preview">${times.map((t) => html`<li>${formatInZone(t, draft.rule.timezone)} <span class="muted">(${timeTag(t, v.zone)} yours)</span></li>`)}</ol>
${times.length === 0 ? html`<p class="muted">This rule has no further occurrence.</p>` : ''}</section>`;
    return sendPage(reply, await listPage(v, null, draft.form, preview));
  });

  app.post<{ Body: Body }>('/schedules', async (req, reply) => {
    const denied = requireAdmin(req, reply);
    if (denied) return denied;
    const v = viewerOf(req, reply);
    try {
      const d = readDraft(req.body ?? {}, v.zone);
      const row = await createSchedule(ctx.pool, { name: d.name, source: 'cli', action: d.action, job: d.job, rule: d.rule, maxCount: d.maxCount, missed: d.missed, missedMax: 10 });
      ctx.log.info(`console: ${req.session.user} added series ${row.schedule_id} (${d.action})`, { scope: 'console' });
      setFlash(req, true, `Series ${row.schedule_id} added.`);
      return reply.redirect(`/schedules#s-${row.schedule_id}`, 303);
    } catch (err) {
      if (!(err instanceof ScheduleError)) throw err;
      const form: Record<string, string> = {};
      for (const f of FIELDS) form[f] = str(req.body?.[f], 10_000);
      return sendPage(reply, await listPage(v, { ok: false, message: `Not saved: ${err.message}` }, form, ''), 400);
    }
  });

  for (const op of ['pause', 'resume', 'remove'] as const) {
    app.post<{ Params: { id: string } }>(`/schedules/:id/${op}`, async (req, reply) => {
      const denied = requireAdmin(req, reply);
      if (denied) return denied;
      const id = intParam(req.params.id);
      const fn = { pause: pauseSchedule, resume: resumeSchedule, remove: (pool: typeof ctx.pool, i: number) => removeSchedule(pool, i, req.session.user!) }[op];
      const ok = id !== null && (await fn(ctx.pool, id));
      const done = { pause: 'paused; its waiting occurrences are cancelled', resume: 'resumed from now', remove: 'removed; its waiting occurrences are cancelled' }[op];
      setFlash(req, ok, ok ? `Series ${id} ${done}.` : `There is no active series ${req.params.id}.`);
      return reply.redirect('/schedules', 303);
    });
  }
}

