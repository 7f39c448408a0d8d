import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { JOB_STATES } from '../../db/queries/inspect';
import { bulkAction, BULK_LIMIT, cancelOne, countBulk, rescheduleOne } from '../actions';
import { intParam, onlyUserOf, sendPage, setFlash, str, takeFlash, viewerOf, type ConsoleContext } from '../context';
import { html, query, type Html } from '../html';
import { filterChoices, getJobDetail, isJobState, listJobPage, type JobDetail, type JobFilter, type JobParam, type JobRow } from '../jobs';
import { csrfField, liveIndicator, page, type Viewer } from '../layout';
import { findSentMail, type SentMail } from '../sentMail';
import { localInputValue, parseLocalInput, timeTag } from '../time';

const PAGE_SIZE = 50;

type Query = Record<string, string | undefined>;

/** The filter as the form and the links carry it: datetime-local values are in the viewer's zone. */
function readFilter(q: Query, zone: string): { filter: JobFilter; form: Record<string, string> } {
  const form = {
    state: isJobState(q.state) ? q.state : '',
    action: str(q.action, 100),
    user: str(q.user, 63),
    q: str(q.q, 200).trim(),
    from: str(q.from, 20),
    to: str(q.to, 20),
  };
  const filter: JobFilter = {
    ...(form.state ? { state: form.state as JobFilter['state'] } : {}),
    ...(form.action ? { action: form.action } : {}),
    ...(form.user ? { user: form.user } : {}),
    ...(form.q ? { text: form.q } : {}),
  };
  const from = parseLocalInput(form.from, zone);
  const to = parseLocalInput(form.to, zone);
  if (from) filter.from = from;
  if (to) filter.to = to;
  return { filter, form };
}

function firstLine(s: string | null): string {
  return (s ?? '').split('\n')[0]!;
}

export function stateBadge(state: string): Html {
  return html`<span class="badge s-${state}">${state}</span>`;
}

function rowHtml(r: JobRow, zone: string): Html {
  const status = r.state === 'retrying' ? r.batch_last_error : r.batch_exitstatus;
  const what = r.batch_subject || r.batch_parameter || '';
  return html`<tr data-id="${r.batch_id}" data-state="${r.state}">
<td class="num" data-label="ID"><a href="/jobs/${r.batch_id}">${r.batch_id}</a></td>
<td data-label="Action">${r.batch_action}</td>
<td data-label="State">${stateBadge(r.state)}</td>
<td data-label="User">${r.batch_user}</td>
<td data-label="To / subject"><div>${r.batch_email}</div><div class="muted">${what}</div></td>
<td class="when" data-label="Scheduled">${timeTag(r.scheduled, zone, { short: true })}</td>
<td class="when" data-label="Completed">${timeTag(r.completed, zone, { short: true })}</td>
<td class="num" data-label="Tries">${r.batch_attempts}</td>
<td class="status" data-label="Status"><div class="clip" title="${status ?? ''}">${firstLine(status)}</div></td>
</tr>`;
}

function rowsHtml(rows: JobRow[], zone: string): Html {
  return html`<tbody id="jobs-rows">${rows.length ? rows.map((r) => rowHtml(r, zone)) : html`<tr><td colspan="9" class="muted">No jobs match.</td></tr>`}</tbody>`;
}

function filterForm(v: Viewer, form: Record<string, string>, choices: { actions: string[]; users: string[] }): Html {
  const opt = (value: string, label: string, selected: string) => html`<option value="${value}"${value === selected ? html` selected` : ''}>${label}</option>`;
  return html`<form class="filters card" method="get" action="/jobs" role="search" aria-label="Filter jobs">
<div><label for="f-state">State</label><select id="f-state" name="state">${opt('', 'Any', form.state!)}${JOB_STATES.map((s) => opt(s, s, form.state!))}</select></div>
<div><label for="f-action">Action</label><select id="f-action" name="action">${opt('', 'Any', form.action!)}${choices.actions.map((a) => opt(a, a, form.action!))}${form.action && !choices.actions.includes(form.action) ? opt(form.action, form.action, form.action) : ''}</select></div>
${v.admin ? html`<div><label for="f-user">User</label><select id="f-user" name="user">${opt('', 'Everyone', form.user!)}${choices.users.map((u) => opt(u, u, form.user!))}</select></div>` : ''}
<div><label for="f-q">Subject or recipient contains</label><input id="f-q" type="search" name="q" value="${form.q}" maxlength="200"></div>
<div><label for="f-from">Scheduled from</label><input id="f-from" type="datetime-local" name="from" value="${form.from}"></div>
<div><label for="f-to">Scheduled before</label><input id="f-to" type="datetime-local" name="to" value="${form.to}"></div>
<div class="actions"><button class="primary" type="submit">Apply</button><a class="button" href="/jobs">Reset</a></div>
</form>`;
}

function hiddenFilter(form: Record<string, string>): Html[] {
  return Object.entries(form).filter(([, v]) => v).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`);
}

async function listPage(ctx: ConsoleContext, req: FastifyRequest<{ Querystring: Query }>, reply: FastifyReply): Promise<FastifyReply> {
  const v = viewerOf(req, reply);
  const { filter, form } = readFilter(req.query, v.zone);
  const before = intParam(req.query.before);
  const pageRows = await listJobPage(ctx.pool, filter, onlyUserOf(req), before, PAGE_SIZE);
  if (req.query.fragment === 'rows') return sendPage(reply, rowsHtml(pageRows.rows, v.zone).text);
  const choices = await filterChoices(ctx.pool, onlyUserOf(req));
  const body = html`<h1>Jobs${v.admin ? '' : html` <span class="muted">(yours)</span>`}</h1>
${filterForm(v, form, choices)}
<div class="row spread">
  ${liveIndicator()}
  <div class="fixed buttons">
    <form class="inline" method="post" action="/jobs/bulk">${csrfField(v)}${hiddenFilter(form)}<input type="hidden" name="op" value="retry"><button type="submit">Retry all matching…</button></form>
    <form class="inline" method="post" action="/jobs/bulk">${csrfField(v)}${hiddenFilter(form)}<input type="hidden" name="op" value="cancel"><button type="submit" class="danger">Cancel all matching…</button></form>
  </div>
</div>
<div class="table-wrap"><table class="jobs">
<caption class="sr">Jobs, newest first</caption>
<thead><tr><th scope="col">ID</th><th scope="col">Action</th><th scope="col">State</th><th scope="col">User</th><th scope="col">To / subject</th><th scope="col">Scheduled</th><th scope="col">Completed</th><th scope="col">Tries</th><th scope="col">Status</th></tr></thead>
${rowsHtml(pageRows.rows, v.zone)}
</table></div>
<nav class="pager" aria-label="Pages">
${before !== null ? html`<a class="button" href="/jobs${query({ ...form })}">Newest</a>` : ''}
${pageRows.next !== null ? html`<a class="button" rel="next" href="/jobs${query({ ...form, before: pageRows.next })}">Older →</a>` : html`<span class="muted">End of list</span>`}
</nav>`;
  return sendPage(reply, page({ title: 'Jobs', viewer: v, current: 'jobs', live: 'list', flash: takeFlash(req), body }));
}

function kv(pairs: Array<[string, unknown]>): Html {
  return html`<dl class="kv">${pairs.filter(([, val]) => val !== null && val !== undefined && val !== '').map(([k, val]) => html`<dt>${k}</dt><dd>${val}</dd>`)}</dl>`;
}

function actionsCard(v: Viewer, job: JobDetail): Html {
  const finished = job.completed !== null;
  const running = job.state === 'running';
  return html`<section class="card" aria-labelledby="h-actions"><h2 id="h-actions" class="mt0">Actions</h2>
<div class="row">
${finished ? html`<form class="inline" method="post" action="/jobs/${job.batch_id}/retry">${csrfField(v)}<button class="primary" type="submit">Retry now</button></form>` : ''}
${!finished ? html`<form class="inline" method="post" action="/jobs/${job.batch_id}/cancel" data-confirm="Cancel job ${job.batch_id}?">${csrfField(v)}<button class="danger" type="submit">Cancel</button></form>` : ''}
</div>
${running ? html`<p class="muted">A running job cannot be rescheduled; cancel it first.</p>` : html`<form method="post" action="/jobs/${job.batch_id}/reschedule" class="row mt-m">${csrfField(v)}
<div><label for="r-at">Reschedule to (${v.zone})</label><input id="r-at" type="datetime-local" name="at" required value="${localInputValue(job.scheduled, v.zone)}"></div>
<div class="fixed"><button type="submit">Reschedule</button></div></form>`}
</section>`;
}

function mailCard(mail: SentMail | null, job: JobDetail): Html | '' {
  if (!mail) {
    if (job.batch_action !== 'Email' || job.state !== 'done') return '';
    return html`<section class="card"><h2 class="mt0">Mail as sent</h2><p class="muted">No copy of the sent message is recorded (xtbatch.eml).</p></section>`;
  }
  return html`<section class="card" aria-labelledby="h-mail"><h2 id="h-mail" class="mt0">Mail as sent</h2>
<pre aria-label="Headers">${mail.headers}</pre>
<h3 class="h3">Body</h3><pre>${mail.body}</pre>
${mail.attachments.length ? html`<h3 class="h3">Attachments</h3><ul>${mail.attachments.map((a) => html`<li>${a.filename} <span class="muted">(${a.contentType}, ${a.size} bytes)</span></li>`)}</ul>` : html`<p class="muted">No attachments.</p>`}
</section>`;
}

function reportCard(job: JobDetail): Html | '' {
  const r = job.batch_result as { file?: string; bytes?: number; pages?: number; rows?: number; format?: string; delivered?: unknown } | null;
  if (!r || typeof r !== 'object' || typeof r.file !== 'string') return '';
  return html`<section class="card"><h2 class="mt0">Report file</h2>${kv([['File', r.file], ['Format', r.format], ['Bytes', r.bytes], ['Pages', r.pages], ['Rows', r.rows]])}
${r.delivered ? html`<pre>${JSON.stringify(r.delivered, null, 2)}</pre>` : ''}</section>`;
}

function paramsTable(params: JobParam[]): Html {
  if (!params.length) return html`<p class="muted">No parameters.</p>`;
  return html`<table><thead><tr><th scope="col">#</th><th scope="col">Name</th><th scope="col">Value</th><th scope="col">Type</th></tr></thead><tbody>
${params.map((p) => html`<tr><td class="num">${p.order}</td><td>${p.name}</td><td>${p.value}</td><td>${p.type}</td></tr>`)}</tbody></table>`;
}

function jobMain(v: Viewer, job: JobDetail, params: JobParam[], mail: SentMail | null): Html {
  const z = v.zone;
  return html`<div id="job-main">
<h1>Job ${job.batch_id} · ${job.batch_action} ${stateBadge(job.state)}</h1>
<div class="grid2">
<section class="card" aria-labelledby="h-row"><h2 id="h-row" class="mt0">Job</h2>${kv([
    ['Submitted by', job.batch_user], ['Submitted', timeTag(job.submitted, z)], ['Scheduled', timeTag(job.scheduled, z)],
    ['Started', timeTag(job.started, z)], ['Completed', timeTag(job.completed, z)], ['Parameter', job.batch_parameter],
    ['File name', job.batch_filename], ['Priority', job.batch_priority], ['Running on', job.state === 'running' ? job.batch_locked_by : null],
    ['Series', job.batch_schedule_id !== null ? html`<a href="/schedules#s-${job.batch_schedule_id}">${job.batch_schedule_id}</a>` : null],
  ])}</section>
${actionsCard(v, job)}
</div>
<section class="card mt-l" aria-labelledby="h-attempts"><h2 id="h-attempts" class="mt0">Attempts and outcome</h2>${kv([
    ['Attempts', `${job.batch_attempts}${job.batch_max_attempts ? ` of at most ${job.batch_max_attempts}` : ''}`],
    ['Last error', job.batch_last_error ? html`<pre>${job.batch_last_error}</pre>` : null],
    ['Errors by attempt', Array.isArray(job.error_history) && job.error_history.length ? html`<table><thead><tr><th scope="col">Attempt</th><th scope="col">When</th><th scope="col">Error</th></tr></thead><tbody>${job.error_history.map((e) => html`<tr><td class="num">${e.attempt}</td><td>${e.at ? timeTag(new Date(e.at), z) : ''}</td><td>${e.error}</td></tr>`)}</tbody></table>` : null],
    ['Exit status', job.batch_exitstatus ? html`<pre>${job.batch_exitstatus}</pre>` : job.state === 'done' ? 'Done (no error)' : null],
  ])}
${job.batch_result !== null && job.batch_result !== undefined ? html`<h3 class="h3">Result</h3><pre>${JSON.stringify(job.batch_result, null, 2)}</pre>` : ''}
</section>
<div class="grid2 mt-l">
<section class="card" aria-labelledby="h-msg"><h2 id="h-msg" class="mt0">Message</h2>${kv([
    ['From', job.batch_fromemail], ['To', job.batch_email], ['Cc', job.batch_cc], ['Bcc', job.batch_bcc], ['Reply-To', job.batch_replyto],
    ['Subject', job.batch_subject], ['HTML', job.batch_emailhtml ? 'yes' : null],
  ])}${job.batch_responsebody ? html`<h3 class="h3">Body</h3><pre>${job.batch_responsebody}</pre>` : ''}</section>
<section class="card" aria-labelledby="h-params"><h2 id="h-params" class="mt0">Parameters</h2>${paramsTable(params)}</section>
</div>
<div class="grid2 mt-l">${mailCard(mail, job)}${reportCard(job)}</div>
</div>`;
}

async function loadOwnJob(ctx: ConsoleContext, req: FastifyRequest<{ Params: { id: string } }>): Promise<{ job: JobDetail; params: JobParam[] } | null> {
  const id = intParam(req.params.id);
  if (id === null) return null;
  const found = await getJobDetail(ctx.pool, id);
  if (!found) return null;
  // Another user's job is answered as "not found": its existence is not theirs to know either.
  if (!req.session.admin && found.job.batch_user !== req.session.user) return null;
  return found;
}

function notFound(req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply): FastifyReply {
  const v = viewerOf(req, reply);
  return sendPage(reply, page({ title: 'No such job', viewer: v, current: 'jobs', body: html`<h1>No job ${req.params.id}</h1><p>There is no such job, or it is not one of yours. <a href="/jobs">Back to the jobs</a></p>` }), 404);
}

export function jobRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  app.get<{ Querystring: Query }>('/jobs', (req, reply) => listPage(ctx, req, reply));

  app.get<{ Params: { id: string }; Querystring: Query }>('/jobs/:id', async (req, reply) => {
    const found = await loadOwnJob(ctx, req);
    if (!found) return notFound(req, reply);
    const v = viewerOf(req, reply);
    const mail = found.job.batch_action === 'Email' && found.job.completed ? await findSentMail(ctx.pool, found.job).catch(() => null) : null;
    const main = jobMain(v, found.job, found.params, mail);
    if (req.query.fragment) return sendPage(reply, main.text);
    return sendPage(reply, page({ title: `Job ${found.job.batch_id}`, viewer: v, current: 'jobs', live: 'job', jobId: found.job.batch_id, flash: takeFlash(req),
      body: html`<div class="float-right">${liveIndicator()}</div>${main}` }));
  });

  const back = (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => reply.redirect(`/jobs/${intParam(req.params.id)}`, 303);

  app.post<{ Params: { id: string } }>('/jobs/:id/cancel', async (req, reply) => {
    const found = await loadOwnJob(ctx, req);
    if (!found) return notFound(req, reply);
    const out = await cancelOne(ctx.pool, found.job.batch_id, req.session.user!);
    setFlash(req, out.ok, out.message);
    return back(req, reply);
  });

  app.post<{ Params: { id: string } }>('/jobs/:id/retry', async (req, reply) => {
    const found = await loadOwnJob(ctx, req);
    if (!found) return notFound(req, reply);
    const out = await rescheduleOne(ctx.pool, found.job.batch_id, null);
    setFlash(req, out.ok, out.message);
    return back(req, reply);
  });

  app.post<{ Params: { id: string }; Body: Query }>('/jobs/:id/reschedule', async (req, reply) => {
    const found = await loadOwnJob(ctx, req);
    if (!found) return notFound(req, reply);
    const zone = viewerOf(req, reply).zone;
    const at = parseLocalInput(str(req.body?.at, 20), zone);
    if (!at) {
      setFlash(req, false, 'Choose a date and time to reschedule to.');
      return back(req, reply);
    }
    const out = await rescheduleOne(ctx.pool, found.job.batch_id, at);
    setFlash(req, out.ok, out.message);
    return back(req, reply);
  });

  // Bulk: the first POST shows how many jobs the filter selects; the second (confirm=yes) acts.
  app.post<{ Body: Query }>('/jobs/bulk', async (req, reply) => {
    const v = viewerOf(req, reply);
    const body = req.body ?? {};
    const op = body.op === 'cancel' ? 'cancel' : body.op === 'retry' ? 'retry' : null;
    if (!op) return reply.code(400).send('op must be retry or cancel');
    const { filter, form } = readFilter(body, v.zone);
    if (body.confirm === 'yes') {
      const n = await bulkAction(ctx.pool, op, filter, onlyUserOf(req), req.session.user!);
      setFlash(req, true, op === 'cancel' ? `${n} job(s) cancelled.` : `${n} job(s) due again now.`);
      return reply.redirect(`/jobs${query(form)}`, 303);
    }
    const n = await countBulk(ctx.pool, op, filter, onlyUserOf(req));
    const verb = op === 'cancel' ? 'Cancel' : 'Retry';
    const which = op === 'cancel' ? 'unfinished' : 'finished';
    const described = Object.entries(form).filter(([, x]) => x).map(([k, x]) => `${k} = ${x}`).join(', ') || 'no filter';
    const more = n > BULK_LIMIT;
    const page2 = html`<h1>${verb} all matching jobs?</h1>
<div class="card"><p>The filter (${described}) selects <strong>${more ? `more than ${BULK_LIMIT}` : n}</strong> ${which} job(s)${op === 'retry' ? ' (jobs that have not finished are skipped, as xTuple\'s Retry ASAP does)' : ''}.
${more ? html`This acts on the newest ${BULK_LIMIT}; repeat it for the rest.` : ''}</p>
${n > 0 ? html`<form method="post" action="/jobs/bulk">${csrfField(v)}${hiddenFilter(form)}<input type="hidden" name="op" value="${op}"><input type="hidden" name="confirm" value="yes">
<button class="${op === 'cancel' ? 'danger' : 'primary'}" type="submit">${verb} ${more ? BULK_LIMIT : n} job(s)</button> <a class="button" href="/jobs${query(form)}">Back</a></form>` : html`<a class="button" href="/jobs${query(form)}">Back</a>`}</div>`;
    return sendPage(reply, page({ title: `${verb} jobs`, viewer: v, current: 'jobs', body: page2 }));
  });
}
