import { CSS_PATH, JS_PATH } from './assets';
import { html, type Html } from './html';
import { zoneLabel } from './time';

export interface Viewer {
  user: string;
  admin: boolean;
  zone: string;
  csrf: string;
}

export interface PageOptions {
  title: string;
  viewer: Viewer | null;
  /** Which navigation entry is this page. */
  current?: 'jobs' | 'schedules' | 'settings' | 'daemons';
  /** 'list' or 'job': the client script follows job changes by server-sent events. */
  live?: 'list' | 'job';
  jobId?: number;
  flash?: { ok: boolean; message: string } | null;
  body: Html;
}

function nav(current: PageOptions['current'], viewer: Viewer): Html {
  const items: Array<[NonNullable<PageOptions['current']>, string, string]> = [
    ['jobs', '/jobs', 'Jobs'],
    ['schedules', '/schedules', 'Schedules'],
    ...(viewer.admin ? [['settings', '/settings', 'Settings'] as [NonNullable<PageOptions['current']>, string, string]] : []),
    ['daemons', '/daemons', 'Daemons'],
  ];
  return html`<nav aria-label="Main">${items.map(([k, href, label]) =>
    html`<a href="${href}"${k === current ? html` aria-current="page"` : ''}>${label}</a>`)}</nav>`;
}

export function flashBox(flash: PageOptions['flash']): Html | '' {
  if (!flash) return '';
  return html`<div class="flash ${flash.ok ? 'ok' : 'bad'}" role="${flash.ok ? 'status' : 'alert'}">${flash.message}</div>`;
}

/** "Live" once the server-sent events stream is open (the script fills it in), with a Pause button. */
export function liveIndicator(): Html {
  return html`<div class="live" id="live" aria-live="polite"><span class="dot" aria-hidden="true"></span><span class="text">Connecting…</span>
<button type="button" id="live-toggle" aria-pressed="false">Pause</button></div>`;
}

export function csrfField(viewer: Viewer): Html {
  return html`<input type="hidden" name="_csrf" value="${viewer.csrf}">`;
}

export function page(o: PageOptions): string {
  const v = o.viewer;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${o.title} · xtconnect</title>
<link rel="stylesheet" href="${CSS_PATH}">
<script src="${JS_PATH}" defer></script>
</head>
<body${o.live ? html` data-live="${o.live}"` : ''}${o.jobId !== undefined ? html` data-job-id="${o.jobId}"` : ''}>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="/jobs">xtconnect</a>
  ${v ? nav(o.current, v) : ''}
  ${v ? html`<div class="who"><span class="zone" title="Times on these pages are in this zone">Times: ${zoneLabel(v.zone)}</span>
    <span>${v.user}${v.admin ? ' (administrator)' : ''}</span>
    <form class="inline" method="post" action="/logout">${csrfField(v)}<button type="submit">Log out</button></form></div>` : ''}
</header>
<main id="main" tabindex="-1">
${flashBox(o.flash)}
${o.body}
</main>
</body>
</html>`.text;
}
