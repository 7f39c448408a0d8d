import type { FastifyInstance } from 'fastify';
import { errorMessage } from '../../errors';
import { describeEndpoint, type Endpoint } from '../../transfer/endpoints';
import type { RemoteSession } from '../../transfer/paths';
import { describeMailbox } from '../../sync/mailboxes';
import { sendPage, setFlash, str, takeFlash, viewerOf, type ConsoleContext } from '../context';
import { html } from '../html';
import { csrfField, page } from '../layout';
import { timeTag } from '../time';
import { requireAdmin } from './settings';

interface DaemonView {
  daemon_id: string;
  daemon_host: string;
  daemon_pid: number;
  daemon_version: string;
  started: Date;
  heartbeat: Date;
  daemon_running: number;
  daemon_claiming: boolean;
  /** Written by daemons that record them (sql/0020 adds the columns); null from older ones. */
  last_poll: Date | null;
  listen_mode: string | null;
  alive: boolean;
}

/** Opens a session to the endpoint and lists its folder: the same code a FileUpload/FileDownload job uses. */
async function testEndpoint(ep: Endpoint): Promise<string> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), ep.timeoutMs + 5_000);
  let session: RemoteSession | null = null;
  try {
    // Loaded on first use, as the transfer handlers load them: a console that never tests one does not carry them.
    const opened: RemoteSession = ep.protocol === 'sftp'
      ? await (require('../../transfer/sftp') as typeof import('../../transfer/sftp')).openSftp(ep, ep.remoteDir, ctl.signal)
      : await (require('../../transfer/ftp') as typeof import('../../transfer/ftp')).openFtp(ep, ep.remoteDir, ctl.signal);
    session = opened;
    const entries = await opened.list();
    return `connected to ${describeEndpoint(ep)}; ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'} in the folder`;
  } finally {
    clearTimeout(timer);
    await session?.close();
  }
}

export function daemonRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  app.get('/daemons', async (req, reply) => {
    const v = viewerOf(req, reply);
    const stale = ctx.cfg.status.daemonStaleSeconds;
    const { rows: daemons } = await ctx.pool.query<DaemonView>(
      `SELECT d.daemon_id, d.daemon_host, d.daemon_pid, d.daemon_version, d.daemon_started AS started,
              d.daemon_heartbeat AS heartbeat, d.daemon_running, d.daemon_claiming,
              (to_jsonb(d) ->> 'daemon_last_poll')::timestamptz AS last_poll, to_jsonb(d) ->> 'daemon_listen_mode' AS listen_mode,
              d.daemon_heartbeat > now() - make_interval(secs => $1) AS alive
         FROM xtbatch.daemon d ORDER BY d.daemon_started, d.daemon_id`,
      [stale],
    );
    const { rows: folders } = await ctx.pool.query<{ mailbox: string; folder: string; last_uid: string; updated: Date }>(
      `SELECT emlsync_folder_mailbox AS mailbox, emlsync_folder_folder AS folder, emlsync_folder_last_uid AS last_uid,
              emlsync_folder_updated AS updated
         FROM xtbatch.emlsync_folder ORDER BY 1, 2`,
    ).catch(() => ({ rows: [] as Array<{ mailbox: string; folder: string; last_uid: string; updated: Date }> }));
    // The last EmailSync job says whether the last sync failed, and why (the folder rows only move on success).
    const { rows: syncs } = await ctx.pool.query<{ batch_id: number; completed: Date | null; batch_exitstatus: string | null; batch_last_error: string | null; mailbox: string | null }>(
      `SELECT DISTINCT ON (coalesce(p.batchparam_value, '')) b.batch_id, b.batch_completed::timestamptz AS completed,
              b.batch_exitstatus, b.batch_last_error, p.batchparam_value AS mailbox
         FROM (SELECT * FROM xtbatch.batch WHERE batch_action = 'EmailSync' AND (batch_completed IS NOT NULL OR batch_attempts > 0)
                ORDER BY batch_id DESC LIMIT 200) b
         LEFT JOIN xtbatch.batchparam p ON p.batchparam_batch_id = b.batch_id AND p.batchparam_name = 'mailbox'
        ORDER BY coalesce(p.batchparam_value, ''), b.batch_id DESC`,
    );
    const lastSync = (name: string) => syncs.find((s) => s.mailbox === name) ?? syncs.find((s) => s.mailbox === null) ?? null;
    const z = v.zone;
    const body = html`<h1>Daemons</h1>
<table class="jobs"><caption class="sr">Daemons registered in this database</caption>
<thead><tr><th scope="col">Host</th><th scope="col">PID</th><th scope="col">Version</th><th scope="col">Started</th><th scope="col">Running jobs</th><th scope="col">Last poll</th><th scope="col">Last heartbeat</th><th scope="col">Mode</th><th scope="col">State</th></tr></thead>
<tbody>${daemons.length ? daemons.map((d) => html`<tr>
<td data-label="Host">${d.daemon_host}</td><td class="num" data-label="PID">${d.daemon_pid}</td><td data-label="Version">${d.daemon_version}</td>
<td data-label="Started">${timeTag(d.started, z)}</td><td class="num" data-label="Running jobs">${d.daemon_running}</td>
<td data-label="Last poll">${d.last_poll ? timeTag(d.last_poll, z) : html`<span class="muted">not recorded</span>`}</td>
<td data-label="Last heartbeat">${timeTag(d.heartbeat, z)}</td>
<td data-label="Mode">${d.listen_mode === 'notify' ? 'LISTEN' : d.listen_mode === 'polling' || d.listen_mode === 'off' ? 'polling' : d.listen_mode ?? html`<span class="muted">not recorded</span>`}</td>
<td data-label="State"><span class="badge ${d.alive ? 's-active' : 's-failed'}">${d.alive ? (d.daemon_claiming ? 'alive' : 'alive, not claiming') : 'silent'}</span></td>
</tr>`) : html`<tr><td colspan="9" class="muted">No daemon has registered.</td></tr>`}</tbody></table>

<h2>Mailboxes</h2>
${ctx.cfg.mailboxes.length === 0 ? html`<p class="muted">This console's config file names no mailboxes.</p>` : html`<table class="jobs"><thead><tr><th scope="col">Mailbox</th><th scope="col">Folders: last sync</th><th scope="col">Last EmailSync job</th></tr></thead><tbody>
${ctx.cfg.mailboxes.map((mb) => {
      const s = lastSync(mb.name);
      const err = s ? s.batch_exitstatus || s.batch_last_error : null;
      return html`<tr><td data-label="Mailbox">${describeMailbox(mb)}</td>
<td data-label="Folders">${folders.filter((f) => f.mailbox === mb.name).map((f) => html`<div>${f.folder}: ${timeTag(f.updated, z)} <span class="muted">(UID ${f.last_uid})</span></div>`)}${folders.some((f) => f.mailbox === mb.name) ? '' : html`<span class="muted">never synced</span>`}</td>
<td data-label="Last job">${s ? html`<a href="/jobs/${s.batch_id}">${s.batch_id}</a> ${timeTag(s.completed, z)} ${err ? html`<div class="s-failed">${err.split('\n')[0]}</div>` : html`<span class="s-done">ok</span>`}` : html`<span class="muted">none</span>`}</td></tr>`;
    })}</tbody></table>`}

<h2>Endpoints</h2>
${ctx.cfg.endpoints.length === 0 ? html`<p class="muted">This console's config file names no endpoints.</p>` : html`<table class="jobs"><thead><tr><th scope="col">Endpoint</th><th scope="col"><span class="sr">Test</span></th></tr></thead><tbody>
${ctx.cfg.endpoints.map((ep) => html`<tr><td data-label="Endpoint">${describeEndpoint(ep)}</td><td>${v.admin ? html`<form class="inline" method="post" action="/daemons/endpoints/test">${csrfField(v)}<input type="hidden" name="name" value="${ep.name}"><button type="submit">Test connection</button></form>` : ''}</td></tr>`)}
</tbody></table>`}`;
    return sendPage(reply, page({ title: 'Daemons', viewer: v, current: 'daemons', flash: takeFlash(req), body }));
  });

  app.post<{ Body: Record<string, string | undefined> }>('/daemons/endpoints/test', async (req, reply) => {
    const denied = requireAdmin(req, reply);
    if (denied) return denied;
    const name = str(req.body?.name, 100);
    const ep = ctx.cfg.endpoints.find((e) => e.name === name);
    if (!ep) {
      setFlash(req, false, `There is no endpoint "${name}" in the config file.`);
    } else {
      try {
        setFlash(req, true, `${name}: ${await testEndpoint(ep)}.`);
      } catch (err) {
        setFlash(req, false, `${name}: ${errorMessage(err)}`);
      }
    }
    return reply.redirect('/daemons', 303);
  });
}
