/**
 * The console's only static files, as strings: the bundle and the single binary carry them with no file beside
 * them and no build step of their own. Served with a content hash in the URL, cached for a year.
 */
import crypto from 'node:crypto';

export const CSS = `
:root{--bg:#f7f7f5;--fg:#1d1f21;--muted:#5f6368;--line:#dcdcd6;--card:#fff;--accent:#1f5fa8;--accent-fg:#fff;
--ok:#1e7b3a;--bad:#b3261e;--warn:#8a5a00;--run:#1f5fa8;--focus:#f0a202;
font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;font-size:15px;line-height:1.45}
@media (prefers-color-scheme:dark){:root{--bg:#17191b;--fg:#e8e8e6;--muted:#a0a4a8;--line:#33373b;--card:#1f2225;
--accent:#6ea8ff;--accent-fg:#0b1b30;--ok:#6fcf8a;--bad:#ff8a80;--warn:#f2c46d;--run:#8fbaff}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg)}
a{color:var(--accent)}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:var(--card);padding:.5rem}
.skip:focus{left:.5rem}
header.top{display:flex;flex-wrap:wrap;align-items:center;gap:.25rem 1.25rem;padding:.6rem 1.25rem;background:var(--card);border-bottom:1px solid var(--line)}
header.top .brand{font-weight:650;letter-spacing:.01em;margin-right:.5rem;color:var(--fg);text-decoration:none}
header.top nav{display:flex;flex-wrap:wrap;gap:.15rem}
header.top nav a{padding:.35rem .65rem;border-radius:6px;text-decoration:none;color:var(--fg)}
header.top nav a[aria-current=page]{background:var(--bg);font-weight:600;box-shadow:inset 0 -2px 0 var(--accent)}
header.top .who{margin-left:auto;display:flex;gap:.75rem;align-items:center;color:var(--muted);font-size:.9rem}
main{padding:1rem 1.25rem 3rem;max-width:1400px;margin:0 auto}
h1{font-size:1.35rem;font-weight:620;margin:.4rem 0 1rem}
h2{font-size:1.05rem;font-weight:620;margin:1.6rem 0 .6rem}
.muted{color:var(--muted)}
.zone{font-size:.85rem;color:var(--muted)}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:1rem}
form.inline{display:inline}
label{display:block;font-size:.85rem;color:var(--muted);margin-bottom:.2rem}
input,select,textarea,button{font:inherit;color:inherit}
input[type=text],input[type=password],input[type=email],input[type=number],input[type=search],input[type=datetime-local],select,textarea{
width:100%;padding:.42rem .55rem;border:1px solid var(--line);border-radius:6px;background:var(--card)}
textarea{min-height:5rem}
button,.button{display:inline-block;padding:.42rem .85rem;border-radius:6px;border:1px solid var(--line);background:var(--card);cursor:pointer;text-decoration:none;color:var(--fg)}
button.primary{background:var(--accent);color:var(--accent-fg);border-color:var(--accent)}
button.danger{color:var(--bad);border-color:currentColor}
button:disabled{opacity:.5;cursor:not-allowed}
.filters{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:.6rem;align-items:end;margin-bottom:1rem}
.filters .actions{display:flex;gap:.4rem}
table{width:100%;border-collapse:collapse;background:var(--card);border:1px solid var(--line);border-radius:8px;overflow:hidden}
th,td{text-align:left;padding:.45rem .55rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600;background:var(--bg)}
tbody tr:last-child td{border-bottom:0}
td.num{font-variant-numeric:tabular-nums}
td.when{white-space:nowrap}
.clip{max-width:13rem;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.table-wrap{overflow-x:auto}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:999px;font-size:.8rem;font-weight:600;border:1px solid currentColor}
.s-done{color:var(--ok)}.s-failed{color:var(--bad)}.s-cancelled{color:var(--muted)}.s-running{color:var(--run)}
.s-retrying{color:var(--warn)}.s-scheduled{color:var(--fg)}.s-paused{color:var(--warn)}.s-removed{color:var(--muted)}.s-active{color:var(--ok)}
tr.changed{animation:flash 1.2s ease-out}
@keyframes flash{from{background:rgba(240,162,2,.25)}to{background:transparent}}
.pager{display:flex;gap:.6rem;align-items:center;margin-top:.8rem}
.flash{padding:.6rem .9rem;border-radius:6px;margin-bottom:1rem;border:1px solid}
.flash.ok{color:var(--ok);background:color-mix(in srgb,var(--ok) 8%,var(--card))}
.flash.bad{color:var(--bad);background:color-mix(in srgb,var(--bad) 8%,var(--card))}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1.2rem;margin:0}
dl.kv dt{color:var(--muted)}dl.kv dd{margin:0;overflow-wrap:anywhere}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:.6rem;font-size:.85rem;max-height:30rem;overflow:auto}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:1rem}
.row{display:flex;flex-wrap:wrap;gap:.6rem;align-items:end}
.row>div{flex:1 1 12rem}
.live{font-size:.85rem;color:var(--muted);display:inline-flex;align-items:center;gap:.35rem}
.live .dot{width:.55rem;height:.55rem;border-radius:50%;background:var(--muted)}
.live.on .dot{background:var(--ok)}
.login{max-width:24rem;margin:8vh auto}
.login form>div{margin-bottom:.8rem}
.check{display:flex;gap:.5rem;align-items:center}.check label{margin:0;color:var(--fg);font-size:1rem}
.mt0{margin-top:0}.mt-s{margin-top:.6rem}.mt-m{margin-top:.8rem}.mt-l{margin-top:1rem}.mb-m{margin-bottom:.8rem}.mb-l{margin-bottom:1rem}
.fixed,.row>.fixed{flex:0 0 auto}.buttons{display:flex;gap:.4rem;flex-wrap:wrap}.float-right{float:right}.note{font-size:.85rem}.tuck{margin-top:-.5rem}
.h3{font-size:.95rem;margin:1rem 0 .4rem}.spread{justify-content:space-between;margin-bottom:.6rem}.right{text-align:right}.nowrap{white-space:nowrap}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
@media (max-width:760px){
 main{padding:.75rem .6rem 2rem}
 header.top{padding:.5rem .6rem}
 header.top .who{margin-left:0;width:100%}
 table.jobs thead{display:none}
 table.jobs,table.jobs tbody,table.jobs tr,table.jobs td{display:block;width:100%}
 table.jobs tr{border-bottom:1px solid var(--line);padding:.4rem 0}
 table.jobs td{border:0;padding:.15rem .65rem;white-space:normal}
 .clip{max-width:none;white-space:normal}
 table.jobs td[data-label]::before{content:attr(data-label) ": ";color:var(--muted);font-size:.8rem}
}
`;

export const JS = `
'use strict';
(function () {
  // The viewer's time zone: the server renders every time in it (cookie), and says which it is.
  var tz = '';
  try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) {}
  var m = document.cookie.match(/(?:^|; )xtc_tz=([^;]*)/);
  var have = m ? decodeURIComponent(m[1]) : '';
  if (tz && have !== tz) {
    document.cookie = 'xtc_tz=' + encodeURIComponent(tz) + '; path=/; max-age=31536000; SameSite=Lax';
    if (!sessionStorage.getItem('xtc_tz_reloaded')) { sessionStorage.setItem('xtc_tz_reloaded', '1'); location.reload(); return; }
  }

  // Buttons that change many things ask first.
  document.addEventListener('submit', function (ev) {
    var f = ev.target;
    var msg = f && f.getAttribute && f.getAttribute('data-confirm');
    if (msg && !window.confirm(msg)) ev.preventDefault();
  });

  var body = document.body;
  var mode = body.getAttribute('data-live');
  if (!mode || !window.EventSource) return;
  var indicator = document.getElementById('live');
  var paused = false;
  var toggle = document.getElementById('live-toggle');
  function show(on) {
    if (!indicator) return;
    indicator.classList.toggle('on', on && !paused);
    var t = indicator.querySelector('.text');
    if (t) t.textContent = paused ? 'Live updates paused' : on ? 'Live' : 'Reconnecting…';
  }
  if (toggle) toggle.addEventListener('click', function () {
    paused = !paused;
    toggle.textContent = paused ? 'Resume' : 'Pause';
    toggle.setAttribute('aria-pressed', paused ? 'true' : 'false');
    show(true);
    if (!paused) refresh('all');
  });

  var busy = false, again = null;
  // Whether the fresh part shows what the page shows: the same markup, each form's CSRF token aside (a new one is
  // made for every page). The stream says "something changed" for any job anywhere, so on a busy system most
  // refreshes change nothing here, and replacing the part anyway would wipe a date being typed into Reschedule and
  // swallow a click on a button being replaced.
  function same(a, b) {
    var x = a.cloneNode(true), y = b.cloneNode(true);
    [x, y].forEach(function (n) {
      n.querySelectorAll('input[name="_csrf"]').forEach(function (i) { i.removeAttribute('value'); });
    });
    return x.isEqualNode(y);
  }
  function swap(target, text) {
    var tpl = document.createElement('template');
    tpl.innerHTML = text;
    var fresh = tpl.content.firstElementChild;
    if (!fresh) return;
    if (same(target, fresh)) {
      window.__xtcUpdated = performance.now();
      return;
    }
    var before = {};
    target.querySelectorAll('tr[data-id]').forEach(function (tr) { before[tr.getAttribute('data-id')] = tr.getAttribute('data-state'); });
    fresh.querySelectorAll('tr[data-id]').forEach(function (tr) {
      var id = tr.getAttribute('data-id');
      if (before[id] !== tr.getAttribute('data-state')) tr.classList.add('changed');
    });
    target.replaceWith(fresh);
    window.__xtcUpdated = performance.now();
    document.dispatchEvent(new CustomEvent('xtc:updated'));
  }
  function refresh(what) {
    if (paused) return;
    if (busy) { again = 'all'; return; }
    var url, target;
    if (mode === 'job') {
      var id = body.getAttribute('data-job-id');
      if (what !== 'all' && what.indexOf(Number(id)) < 0) return;
      url = location.pathname + '?fragment=1';
      target = document.getElementById('job-main');
    } else {
      target = document.getElementById('jobs-rows');
      var q = new URLSearchParams(location.search);
      if (what !== 'all' && q.get('before')) {
        var shown = [];
        target.querySelectorAll('tr[data-id]').forEach(function (tr) { shown.push(Number(tr.getAttribute('data-id'))); });
        var ids = what.filter(function (i) { return shown.indexOf(i) >= 0; });
        if (!ids.length) return;
      }
      q.set('fragment', 'rows');
      url = location.pathname + '?' + q.toString();
    }
    if (!target) return;
    busy = true;
    fetch(url, { credentials: 'same-origin', headers: { 'Accept': 'text/html' } })
      .then(function (r) { if (r.status === 401) { location.reload(); throw new Error('logged out'); } return r.text(); })
      .then(function (t) { swap(target, t); })
      .catch(function () {})
      .then(function () { busy = false; if (again) { var a = again; again = null; refresh(a); } });
  }

  var es = new EventSource('/events');
  // Whatever changed between rendering the page and the stream opening (or while it was down) was not announced
  // on it: fetch once on every open.
  es.addEventListener('open', function () { show(true); refresh('all'); });
  es.addEventListener('error', function () { show(false); });
  es.addEventListener('jobs', function (ev) {
    var d = ev.data === 'all' ? 'all' : ev.data.split(',').map(Number);
    refresh(d);
  });
})();
`;

function hash(s: string): string {
  return crypto.createHash('sha256').update(s).digest('hex').slice(0, 12);
}

export const CSS_PATH = `/assets/console-${hash(CSS)}.css`;
export const JS_PATH = `/assets/console-${hash(JS)}.js`;
