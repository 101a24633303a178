// The status page itself: static HTML, CSS and a small script. The page carries no data; the script
// fetches /_patchbay/status every two seconds and builds every element with textContent, so nothing a
// remote network, a room or an error message says can become markup.

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 1.5rem 2rem; color: #1d1d1f; background: #fafafa; }
header { display: flex; align-items: baseline; gap: 1rem; border-bottom: 1px solid #ddd; padding: .8rem 0; }
h1 { font-size: 1.3rem; margin: 0; } h2 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
table { border-collapse: collapse; background: #fff; min-width: 40%; }
th, td { text-align: left; padding: .25rem .6rem; border-bottom: 1px solid #eee; vertical-align: top; }
th { font-weight: 600; color: #555; }
.ok { color: #1a7f37; } .warn { color: #9a6700; } .bad { color: #cf222e; font-weight: 600; }
tr.bad td { background: #ffebe9; }
.badge { padding: .1rem .5rem; border-radius: .8rem; background: #eee; }
.muted { color: #777; } .mono { font-family: ui-monospace, monospace; font-size: 12px; }
#stale { display: none; background: #cf222e; color: #fff; padding: .4rem .8rem; margin-top: .5rem; }
button { font: inherit; padding: .1rem .6rem; cursor: pointer; }
ul { margin: .2rem 0; padding-left: 1.2rem; }
`;

const SCRIPT = `
const $ = (id) => document.getElementById(id);
function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined && text !== null) e.textContent = String(text); if (cls) e.className = cls; return e; }
function row(cells, cls) { const tr = el('tr', null, cls); for (const c of cells) { const td = el('td'); if (c instanceof Node) td.append(c); else td.textContent = c === undefined || c === null ? '' : String(c); tr.append(td); } return tr; }
function table(id, head, rows, empty) {
  const t = $(id); t.replaceChildren();
  const tr = el('tr'); for (const h of head) tr.append(el('th', h)); t.append(tr);
  if (rows.length === 0) { const r = row([empty]); r.firstChild.colSpan = head.length; r.className = 'muted'; t.append(r); }
  for (const r of rows) t.append(r);
}
const when = (ms) => new Date(ms).toLocaleString();
const age = (ms) => ms < 1000 ? ms + ' ms' : ms < 120000 ? Math.round(ms / 1000) + ' s' : Math.round(ms / 60000) + ' min';
function stateClass(c) { return c.stale || c.state === 'failed' || c.state === 'backoff' ? 'bad' : c.state === 'connected' ? 'ok' : 'warn'; }
async function act(action, body) {
  const res = await fetch('/_patchbay/status/dead-letters/' + action, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const answer = await res.json();
  $('action').textContent = res.ok ? action + ': ' + JSON.stringify(answer) : 'failed: ' + answer.error;
  refresh();
}
function button(label, action, body) { const b = el('button', label); b.addEventListener('click', () => { if (action !== 'drop' || confirm('Drop this dead letter for good?')) act(action, body); }); return b; }
function render(s) {
  const h = s.health;
  const overall = $('overall'); overall.textContent = h.status; overall.className = 'badge ' + (h.status === 'ok' ? 'ok' : 'bad');
  $('updated').textContent = 'updated ' + new Date(s.time).toLocaleTimeString();
  $('problems').replaceChildren(...h.problems.map((p) => el('li', p, 'bad')));
  const hs = s.homeserver, redis = h.redis;
  table('services', ['service', 'state', 'detail'], [
    row(['homeserver', hs.reachable ? 'reachable' : 'unreachable', (hs.url || '') + (hs.reachable ? ' (' + hs.latency_ms + ' ms)' : ': ' + (hs.error || ''))], hs.reachable ? 'ok' : 'bad'),
    row(['redis', redis.reachable ? 'reachable' : 'unreachable', redis.reachable ? redis.latency_ms + ' ms' : redis.error], redis.reachable ? 'ok' : 'bad'),
  ], '');
  const q = h.queues;
  $('queues').textContent = q ? 'waiting ' + q.waiting + ', active ' + q.active + ', failed ' + q.failed + ', dead letters ' + q.dead_letters + ', oldest ' + age(q.oldest_age_ms) + ' (' + h.role + ', ' + h.partitions + ' partitions, ' + (h.workers ? h.workers.local_partitions : 0) + ' worked here)' : 'unknown: Redis does not answer';
  table('partitions', ['partition', 'waiting', 'active', 'failed', 'oldest', 'workers'], (q ? q.per_partition : []).map((p) =>
    row([p.partition, p.waiting, p.active, p.failed, age(p.oldest_age_ms), p.workers], p.workers === 0 ? 'bad' : '')), 'unknown');
  const conns = [];
  for (const b of h.bridges || []) for (const c of b.connections) {
    const state = el('span', c.stale ? c.state + ' (not confirmed)' : c.state, stateClass(c));
    const detail = Object.entries(c.detail || {}).map(([k, v]) => k + ' ' + v).join(', ');
    const r = row([b.bridge, c.connection, state, c.reason || '', detail, when(c.since)], stateClass(c) === 'bad' ? 'bad' : '');
    r.dataset.bridge = b.bridge; r.dataset.connection = c.connection; r.dataset.state = c.state;
    conns.push(r);
  }
  table('connections', ['bridge', 'connection', 'state', 'reason', 'detail', 'since'], conns, 'no bridge reports a connection');
  $('dead-count').textContent = s.dead_letters.count + (s.dead_letters.count > s.dead_letters.newest.length ? ' (the newest ' + s.dead_letters.newest.length + ' below)' : '');
  $('replay-all').disabled = s.dead_letters.count === 0;
  table('dead', ['event', 'time', 'room', 'what', 'tries', 'error', ''], s.dead_letters.newest.map((d) => {
    const actions = el('span'); actions.append(button('Replay', 'replay', { ids: [d.event.event_id] }), ' ', button('Drop', 'drop', { ids: [d.event.event_id] }));
    const r = row([el('span', d.event.event_id, 'mono'), when(d.time), el('span', d.event.room_id, 'mono'), d.event.type + ' from ' + d.event.sender, d.attempts, d.error, actions]);
    r.dataset.eventId = d.event.event_id; return r;
  }), 'none');
  table('errors', ['time', 'level', 'message', 'where'], s.recent_errors.map((e) =>
    row([when(e.time), e.level, e.msg + (e.error ? ': ' + e.error : ''), Object.entries(e.context).map(([k, v]) => k + ' ' + v).join(', ')], e.level === 'warn' ? 'warn' : 'bad')), 'none since this process started');
}
async function refresh() {
  try {
    const res = await fetch('/_patchbay/status', { cache: 'no-store' });
    if (!res.ok) throw new Error((await res.json()).error);
    render(await res.json());
    $('stale').style.display = 'none';
  } catch (err) {
    $('stale').textContent = 'Cannot reach the host (' + err.message + '); showing what it said last.';
    $('stale').style.display = 'block';
  }
}
$('replay-all').addEventListener('click', () => act('replay', { all: true }));
refresh();
setInterval(refresh, 2000);
`;

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Patchbay status</title><style>${STYLE}</style></head>
<body>
<header><h1>Patchbay</h1><span id="overall" class="badge">loading</span><span id="updated" class="muted"></span></header>
<div id="stale"></div>
<ul id="problems"></ul>
<h2>Homeserver and Redis</h2><table id="services"></table>
<h2>Bridges and their connections</h2><table id="connections"></table>
<h2>Queues</h2><p id="queues"></p><details><summary>Partitions and their workers</summary><table id="partitions"></table></details>
<h2>Dead letters: <span id="dead-count"></span></h2>
<p><button id="replay-all">Replay all</button> <span id="action" class="muted"></span></p>
<table id="dead"></table>
<h2>Recent warnings and errors (this process)</h2><table id="errors"></table>
<script>${SCRIPT}</script>
</body></html>
`;

const GATE_TEXT = {
  ask: 'This status page needs the token from host.status_token.',
  wrong: 'That is not the token in host.status_token.',
  off: 'The status page is off: the host listens beyond loopback (host.bind) and host.status_token is not set. Set host.status_token to a long random string and restart.',
} as const;

/** The page for a visitor without access: a token form, or why the page is off. No data. */
export function statusGatePage(kind: keyof typeof GATE_TEXT): string {
  const form = kind === 'off' ? '' : '<form method="get" action="/"><input type="password" name="token" autofocus size="40"> <button>Open</button></form>';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Patchbay status</title><style>${STYLE}</style></head><body><header><h1>Patchbay</h1></header><p>${GATE_TEXT[kind]}</p>${form}</body></html>`;
}
