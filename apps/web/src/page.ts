// The operator page: safety events as they happen (newest on top), each with its snapshot. Plain
// HTML and a few lines of script, served by the web app itself (works offline, no build step).

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function dashboardPage(version: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgevisor</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:1rem;background:#111;color:#eee}
#status{padding:.3rem .6rem;border-radius:.3rem;display:inline-block}
#status.ok{background:#1d4d1d}#status.down{background:#7a1d1d}
ol{list-style:none;padding:0}li{display:flex;gap:1rem;align-items:center;border-bottom:1px solid #333;padding:.4rem 0}
img{width:160px;background:#222}
</style></head>
<body>
<h1>edgevisor <small id="version">${escapeHtml(version)}</small></h1>
<h2>Safety events</h2>
<p id="status" class="down">connecting…</p>
<ol id="events"></ol>
<script>
const list = document.getElementById('events');
const status = document.getElementById('status');
const setStatus = (ok, text) => { status.className = ok ? 'ok' : 'down'; status.textContent = text; };
const src = new EventSource('/api/safety-events/stream');
src.onopen = () => setStatus(true, 'live');
src.onerror = () => setStatus(false, 'reconnecting to the web app…');
src.addEventListener('upstream', (m) => {
  const d = JSON.parse(m.data);
  setStatus(d.ok, d.ok ? 'live' : 'inference app unavailable: ' + d.error);
});
src.addEventListener('safety', (m) => {
  const e = JSON.parse(m.data);
  const li = document.createElement('li');
  li.dataset.id = e.id;
  const img = document.createElement('img');
  img.alt = 'snapshot of event ' + e.id;
  img.src = '/api/safety-events/' + e.id + '/snapshot.jpg';
  const text = document.createElement('span');
  text.textContent = new Date(e.ts).toLocaleString() + ' · ' + e.camera + ' · zone ' + e.zone + ' · ' + e.cls + ' ' + Math.round(e.score * 100) + '%';
  li.append(img, text);
  list.prepend(li);
});
</script>
</body></html>`;
}
