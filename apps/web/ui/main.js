// The operator dashboard (preact + htm, no build step). One SSE stream (/api/stream) feeds
// everything live; EventSource resends the composite Last-Event-ID on reconnect, so a dropped
// connection or a web app restart resumes without a reload and without losing an event.
import { h, render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import { CameraGrid } from './cameras.js';

const html = htm.bind(h);
const STATE_CLASS = { running: 'ok', streaming: 'ok', starting: 'busy', stopping: 'busy', waiting: 'busy', unhealthy: 'warn', backoff: 'warn', reconnecting: 'warn', stalled: 'warn', failed: 'bad', gave_up: 'bad', stopped: 'off' };
export const stateClass = (s) => STATE_CLASS[s] ?? 'off';
export const ago = (ms) => (ms == null ? '—' : ms < 1000 ? 'now' : ms < 60e3 ? `${Math.round(ms / 1e3)} s` : ms < 3600e3 ? `${Math.round(ms / 60e3)} min` : `${(ms / 3600e3).toFixed(1)} h`);
const time = (ts) => new Date(ts).toLocaleTimeString();

async function api(path, opts = {}, csrf) {
  const headers = { ...(opts.body ? { 'content-type': 'application/json' } : {}), ...(csrf ? { 'x-csrf-token': csrf } : {}) };
  const res = await fetch(path, { ...opts, headers, credentials: 'same-origin' });
  const body = res.headers.get('content-type')?.includes('json') ? await res.json() : null;
  if (!res.ok) throw new Error(body?.error?.message ?? `HTTP ${res.status}`);
  return body;
}

function useStream(onSafety, onSupervisor, onPin) {
  const [stats, setStats] = useState(null);
  // null: not connected yet (no banner at load); false: the connection dropped.
  const [connected, setConnected] = useState(null);
  const handlers = useRef({});
  handlers.current = { onSafety, onSupervisor, onPin };
  useEffect(() => {
    let src; let lastId = ''; let retry;
    const open = () => {
      src = new EventSource(lastId ? `/api/stream?since=${encodeURIComponent(lastId)}` : '/api/stream');
      src.onopen = () => setConnected(true);
      src.onerror = () => {
        setConnected(false);
        // EventSource retries by itself unless the server refused the stream (closed): reopen then.
        if (src.readyState === EventSource.CLOSED) { clearTimeout(retry); retry = setTimeout(open, 3000); }
      };
      const track = (f) => (m) => { if (m.lastEventId) lastId = m.lastEventId; f(JSON.parse(m.data)); };
      src.addEventListener('stats', (m) => { setConnected(true); setStats(JSON.parse(m.data)); });
      src.addEventListener('safety', track((e) => handlers.current.onSafety(e)));
      src.addEventListener('supervisor', track((e) => handlers.current.onSupervisor(e)));
      src.addEventListener('pin', (m) => handlers.current.onPin(JSON.parse(m.data)));
    };
    open();
    return () => { clearTimeout(retry); src.close(); };
  }, []);
  return { stats, connected };
}

function SignIn({ session, onSession }) {
  const [open, setOpen] = useState(false);
  const [err, setErr] = useState('');
  const input = useRef();
  useEffect(() => { if (open) input.current?.focus(); }, [open]);
  if (session?.role === 'technician' && session.signedIn) {
    return html`<span class="who">technician <button id="signout" onClick=${async () => onSession(await api('/api/session', { method: 'DELETE' }, session.csrf).then(() => api('/api/session')))}>Sign out</button></span>`;
  }
  if (!open) return html`<span class="who">${session?.role ?? 'viewer'} <button id="signin" onClick=${() => setOpen(true)}>Technician sign-in</button></span>`;
  const submit = async (ev) => {
    ev.preventDefault();
    try { setErr(''); await api('/api/session', { method: 'POST', body: JSON.stringify({ secret: input.current.value }) }); onSession(await api('/api/session')); setOpen(false); }
    catch (e) { setErr(e.message); }
  };
  return html`<form class="signin" onSubmit=${submit}><label>Token or password <input id="secret" type="password" ref=${input} autocomplete="current-password"/></label>
    <button type="submit">Sign in</button><button type="button" onClick=${() => setOpen(false)}>Cancel</button>${err && html`<span class="err">${err}</span>`}</form>`;
}

function Tile({ node, children, tech, csrf, now, extra }) {
  const [logs, setLogs] = useState(null);
  const [msg, setMsg] = useState('');
  const act = async (action) => {
    if (!confirm(`${action} ${node.id}?`)) return;
    try { await api(`/api/children/${encodeURIComponent(node.id)}/${action}`, { method: 'POST' }, csrf); setMsg(`${action} asked`); }
    catch (e) { setMsg(e.message); }
  };
  // The child's last log lines (viewers too: they are redacted where they are written).
  const showLogs = async () => {
    try { setLogs((await api(`/api/children/${encodeURIComponent(node.id)}`)).entries); } catch (e) { setLogs([{ text: e.message }]); }
  };
  const cls = stateClass(node.state);
  return html`<section class=${`tile ${cls}`} data-child=${node.id} aria-label=${`${node.id}: ${node.state}`}>
    <header><h3>${node.id.split('/').at(-1)}</h3><span class=${`state ${cls}`}>${node.state}${node.workerState ? ` · ${node.workerState}` : ''}${node.stale ? ' (last known)' : ''}</span></header>
    <dl>
      <dt>up</dt><dd>${node.startedAt ? ago(now - node.startedAt) : '—'}</dd>
      <dt>restarts</dt><dd class="restarts">${node.restarts}</dd>
      <dt>since</dt><dd>${time(node.since)}</dd>
    </dl>
    ${node.lastRestartReason && html`<p class="reason" title="last restart reason">↻ ${node.lastRestartReason}${node.lastRestartAt ? ` (${ago(now - node.lastRestartAt)} ago)` : ''}</p>`}
    ${extra}
    ${tech && html`<div class="actions">${['restart', 'stop', 'start'].map((a) => html`<button class=${`act-${a}`} onClick=${() => act(a)}>${a}</button>`)}${msg && html`<span class="msg">${msg}</span>`}</div>`}
    <div class="logbar"><button class="act-logs" onClick=${showLogs}>${logs ? 'refresh log' : 'log'}</button>${logs && html`<button class="act-logs-close" onClick=${() => setLogs(null)}>hide log</button>`}</div>
    ${logs && html`<${LogPanel} entries=${logs}/>`}
    ${children}
  </section>`;
}

// One row per line: time, level, message and key fields of a JSON line; other lines as text.
function LogPanel({ entries }) {
  if (!entries?.length) return html`<div class="logs" role="log"><p class="muted">(no log lines)</p></div>`;
  return html`<div class="logs" role="log" aria-label="log lines">${entries.map((e) => e.text !== undefined
    ? html`<div class="line text">${e.text}</div>`
    : html`<div class=${`line lvl-${e.level ?? 'info'}`} data-level=${e.level}><time>${e.ts ? new Date(e.ts).toLocaleTimeString() : ''}</time> <b class="lvl">${(e.level ?? '').toUpperCase()}</b> <span class="msg">${e.msg}</span>${(e.fields ?? []).map(([k, v]) => html` <span class=${`f f-${k}`}><i>${k}</i>=${v}</span>`)}</div>`)}</div>`;
}

function Tree({ stats, tech, csrf, now }) {
  const tree = stats?.tree;
  if (!tree) return html`<p class="muted">supervision tree: ${stats?.upstream?.supervisor?.error ?? 'waiting for the supervisor…'}</p>`;
  const nodes = tree.nodes.filter((n) => n.parent !== null);
  const top = nodes.filter((n) => !n.inner);
  const innerOf = (id) => nodes.filter((n) => n.inner && n.parent === id);
  return html`<div class="tiles">${top.map((n) => {
    const inner = innerOf(n.id);
    // Until the supervisor merges the camera app's own tree, its workers come from /cameras.
    const workers = inner.length ? inner.map((w) => html`<${Tile} key=${w.id} node=${w} tech=${tech} csrf=${csrf} now=${now}/>`)
      : n.id === 'camera' ? (stats.cameras ?? []).map((c) => html`<div class=${`worker ${stateClass(c.state)}`} data-camera-worker=${c.id}><b>${c.id}</b> <span class=${`state ${stateClass(c.state)}`}>${c.state}</span> runs ${c.workerRuns ?? '—'}</div>`) : null;
    return html`<${Tile} key=${n.id} node=${n} tech=${tech} csrf=${csrf} now=${now}>${workers && html`<div class="inner">${workers}</div>`}<//>`;
  })}</div>`;
}

const bytes = (n) => { const u = ['B', 'KB', 'MB', 'GB', 'TB']; let i = 0; while (n >= 1000 && i < 4) { n /= 1000; i++; } return `${i ? n.toFixed(1) : n} ${u[i]}`; };
// One tile per data volume the vacuum watches: free space and hours left at the measured rate.
function Disks({ disks }) {
  if (!disks?.length) return null;
  return html`<div class="tiles disks">${disks.map((d) => {
    const low = d.alarm || (d.floorBytes !== null && d.freeBytes < d.floorBytes);
    return html`<section class=${`tile disk ${low ? 'bad' : 'ok'}`} data-disk=${d.name} aria-label=${`disk ${d.name}: ${low ? 'low' : 'ok'}`}>
      <header><h3>disk ${d.name}</h3><span class=${`state ${low ? 'bad' : 'ok'}`}>${d.alarm ? 'alarm' : low ? 'low' : 'ok'}</span></header>
      <dl><dt>free</dt><dd>${bytes(d.freeBytes)} of ${bytes(d.sizeBytes)}</dd><dt>hours left</dt><dd>${d.hoursLeft === null ? '—' : Math.round(d.hoursLeft)}</dd>${d.floorBytes !== null && html`<dt>floor</dt><dd>${bytes(d.floorBytes)}</dd>`}</dl>
    </section>`;
  })}</div>`;
}

function EventFeed({ events, setFilter, filter, tech, csrf, older, cameras }) {
  const pin = async (e) => { try { await api(`/api/events/${e.id}/pin`, { method: e.pinned ? 'DELETE' : 'PUT' }, csrf); } catch (err) { alert(err.message); } };
  const f = (k) => (ev) => setFilter({ ...filter, [k]: ev.target.type === 'checkbox' ? ev.target.checked : ev.target.value });
  return html`<section class="feed" aria-label="safety events"><h2>Safety events</h2>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <select id="f-camera" value=${filter.camera} onChange=${f('camera')} aria-label="camera"><option value="">all cameras</option>${cameras.map((c) => html`<option>${c}</option>`)}</select>
      <input id="f-zone" placeholder="zone" value=${filter.zone} onChange=${f('zone')} aria-label="zone"/>
      <input id="f-cls" placeholder="class" value=${filter.cls} onChange=${f('cls')} aria-label="class"/>
      <input id="f-from" type="datetime-local" value=${filter.from} onChange=${f('from')} aria-label="from"/>
      <input id="f-to" type="datetime-local" value=${filter.to} onChange=${f('to')} aria-label="to"/>
      <label><input id="f-pinned" type="checkbox" checked=${filter.pinned} onChange=${f('pinned')}/> pinned</label>
    </form>
    <ol id="events">${events.map((e) => html`<li key=${e.id} data-id=${e.id} class=${e.pinned ? 'pinned' : ''}>
      ${e.snapshot ? html`<img src=${e.snapshot} alt=${`snapshot of event ${e.id}`} loading="lazy" width="160" height="90"/>` : html`<span class="nosnap">${e.snapshotError ? 'no snapshot (disk?)' : 'no snapshot'}</span>`}
      <span class="what">${new Date(e.ts).toLocaleString()} · ${e.camera} · zone ${e.zone} · ${e.cls} ${Math.round(e.score * 100)}%</span>
      ${tech ? html`<button class="pin" aria-pressed=${e.pinned} onClick=${() => pin(e)}>${e.pinned ? 'unpin' : 'pin'}</button>` : e.pinned ? html`<span class="pinmark">pinned</span>` : null}
    </li>`)}</ol>
    ${older && html`<button id="older" onClick=${older}>older events</button>`}
  </section>`;
}

function SupervisorLog({ events, children }) {
  const [child, setChild] = useState('');
  const shown = events.filter((e) => !child || e.child === child || e.child.startsWith(`${child}/`)).slice(-200).reverse();
  return html`<section class="suplog" aria-label="supervisor event log"><h2>Supervisor log</h2>
    <select id="log-child" value=${child} onChange=${(e) => setChild(e.target.value)} aria-label="filter by child"><option value="">every child</option>${children.map((c) => html`<option>${c}</option>`)}</select>
    <ol id="suplog">${shown.map((e) => html`<li key=${e.seq} data-seq=${e.seq} class=${`t-${e.type}`}><time>${time(e.ts)}</time> <b>${e.child}</b> ${e.type === 'transition' ? `${e.from} → ${e.to}` : e.type}: ${e.reason}</li>`)}</ol>
  </section>`;
}

const toMs = (v) => (v ? String(new Date(v).getTime()) : '');
function App() {
  const [session, setSession] = useState(null);
  const [live, setLive] = useState([]);
  const [sup, setSup] = useState([]);
  const [filter, setFilter] = useState({ camera: '', zone: '', cls: '', from: '', to: '', pinned: false });
  const [page, setPage] = useState(null);
  const [zones, setZones] = useState(null);
  const [now, setNow] = useState(Date.now());
  const filtered = filter.camera || filter.zone || filter.cls || filter.from || filter.to || filter.pinned;
  const matches = (e) => (!filter.camera || e.camera === filter.camera) && (!filter.zone || e.zone === filter.zone) && (!filter.cls || e.cls === filter.cls) && (!filter.pinned || e.pinned);
  const { stats, connected } = useStream(
    (e) => { setLive((l) => (l.some((x) => x.id === e.id) ? l : [e, ...l].slice(0, 200))); if (filtered && matches(e)) setPage((p) => p && { ...p, events: [e, ...p.events] }); },
    (e) => setSup((s) => [...s, e].slice(-1000)),
    (p) => { const up = (l) => l.map((e) => (e.id === p.id ? { ...e, pinned: p.pinned } : e)); setLive(up); setPage((pg) => pg && { ...pg, events: up(pg.events) }); },
  );
  useEffect(() => { api('/api/session').then(setSession).catch(() => setSession({ role: null })); api('/api/zones').then((z) => setZones(z.zones)).catch(() => {}); const t = setInterval(() => setNow(Date.now()), 1000); return () => clearInterval(t); }, []);
  const query = (before) => {
    const q = new URLSearchParams();
    for (const k of ['camera', 'zone', 'cls']) if (filter[k]) q.set(k, filter[k]);
    if (filter.from) q.set('from', toMs(filter.from));
    if (filter.to) q.set('to', toMs(filter.to));
    if (filter.pinned) q.set('pinned', 'true');
    if (before) q.set('before', String(before));
    return api(`/api/events?${q}`);
  };
  useEffect(() => { if (filtered) query().then(setPage).catch(() => setPage({ events: [], next: null })); else setPage(null); }, [filter]);
  const older = page?.next ? () => query(page.next).then((p) => setPage({ events: [...page.events, ...p.events], next: p.next })) : null;
  const tech = session?.role === 'technician' && session.signedIn;
  const cameraIds = useMemo(() => (stats?.cameras ?? []).map((c) => c.id), [stats]);
  const children = useMemo(() => (stats?.tree?.nodes ?? []).map((n) => n.id), [stats]);
  const latestByCamera = useMemo(() => { const m = {}; for (const e of live) if (!m[e.camera]) m[e.camera] = e; return m; }, [live]);
  if (session && session.role === null) return html`<main><h1>edgevisor</h1><p>This site needs a sign-in.</p><${SignIn} session=${session} onSession=${setSession}/></main>`;
  return html`<main class=${tech ? 'tech' : 'viewer'}>
    <header class="top"><h1>edgevisor <small>${document.body.dataset.version}</small></h1>
      <span id="conn" class=${connected ? 'ok' : connected === null ? 'busy' : 'bad'}>${connected ? 'live' : connected === null ? 'connecting…' : 'connection lost'}</span>
      <time>${new Date(now).toLocaleTimeString()}</time><${SignIn} session=${session} onSession=${setSession}/></header>
    ${connected === false && html`<div id="conn-banner" role="alert">Connection to the box lost — reconnecting; nothing is missed, the page catches up when it is back.</div>`}
    <div id="problems" role="status" class=${stats?.problems?.length ? 'has' : 'none'}>${stats ? (stats.problems.length ? html`<b>Potential problems:</b><ul>${stats.problems.map((p) => html`<li>${p}</li>`)}</ul>` : 'No problems: every subsystem and camera is running.') : 'waiting for the first status…'}</div>
    <${Tree} stats=${stats} tech=${tech} csrf=${session?.csrf} now=${now}/>
    <${Disks} disks=${stats?.disks}/>
    <${CameraGrid} cameras=${stats?.cameras ?? []} zones=${zones} latest=${latestByCamera} html=${html}/>
    <div class="columns"><${EventFeed} events=${page ? page.events : live} filter=${filter} setFilter=${setFilter} tech=${tech} csrf=${session?.csrf} older=${older} cameras=${cameraIds}/>
    <${SupervisorLog} events=${sup} children=${children}/></div>
  </main>`;
}

render(html`<${App}/>`, document.getElementById('app'));
