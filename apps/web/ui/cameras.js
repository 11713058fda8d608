// The camera grid: live MJPEG through the web app (a still refreshed every 10 s while the page is
// hidden), danger zones and the latest event's boxes drawn over it, Frigate-style figures and a
// 15-minute uPlot chart of camera fps, detect fps and inference ms.
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';

const html = htm.bind(h);
const Q_CLASS = { excellent: 'ok', fair: 'busy', poor: 'warn', unusable: 'bad' };
const fmt = (v, unit = '') => (v == null ? '—' : `${v}${unit}`);

function useVisible() {
  const [visible, setVisible] = useState(!document.hidden);
  useEffect(() => { const f = () => setVisible(!document.hidden); document.addEventListener('visibilitychange', f); return () => document.removeEventListener('visibilitychange', f); }, []);
  return visible;
}

function Live({ id }) {
  const visible = useVisible();
  const [still, setStill] = useState(0);
  useEffect(() => { if (visible) return; const t = setInterval(() => setStill(Date.now()), 10_000); return () => clearInterval(t); }, [visible]);
  const src = visible ? `/api/cameras/${encodeURIComponent(id)}/stream.mjpeg` : `/api/cameras/${encodeURIComponent(id)}/frame.jpg?t=${still}`;
  return html`<img class="live" src=${src} alt=${`live view of camera ${id}`}/>`;
}

// The latest event's boxes for a minute after it, so an old box is not mistaken for the live scene.
const recent = (e) => (e && Date.now() - e.ts < 60_000 ? e : null);

function Overlay({ zones, camera, event }) {
  const polys = zones?.cameras?.[camera]?.zones ?? [];
  return html`<svg class="overlay" viewBox="0 0 1 1" preserveAspectRatio="none" aria-hidden="true">
    ${polys.map((z) => html`<polygon class="zone" points=${z.polygon.map((p) => p.join(',')).join(' ')}><title>${z.id}</title></polygon>`)}
    ${(event?.boxes ?? []).map((b) => html`<rect class="box" x=${b.x1} y=${b.y1} width=${b.x2 - b.x1} height=${b.y2 - b.y1}/>`)}
  </svg>`;
}

function Chart({ id, cam }) {
  const el = useRef();
  const plot = useRef();
  const data = useRef(null);
  useEffect(() => {
    let dead = false;
    fetch(`/api/cameras/${encodeURIComponent(id)}/history`).then((r) => (r.ok ? r.json() : null)).then((hs) => {
      if (dead || !el.current || !window.uPlot) return;
      data.current = hs ? [hs.ts, hs.cameraFps, hs.detectFps, hs.inferenceMs] : [[], [], [], []];
      plot.current = new window.uPlot({
        width: el.current.clientWidth || 360, height: 120, legend: { show: true },
        scales: { ms: { auto: true } },
        series: [{}, { label: 'camera fps', stroke: '#4caf50' }, { label: 'detect fps', stroke: '#42a5f5' }, { label: 'inference ms', stroke: '#ffb300', scale: 'ms' }],
        axes: [{ stroke: '#bbb' }, { stroke: '#bbb' }, { side: 1, scale: 'ms', stroke: '#ffb300', grid: { show: false } }],
      }, data.current, el.current);
    }).catch(() => {});
    return () => { dead = true; plot.current?.destroy(); };
  }, [id]);
  // One point per stats frame, 15 minutes kept.
  useEffect(() => {
    const d = data.current;
    if (!d || !plot.current || !cam) return;
    d[0].push(Date.now() / 1000); d[1].push(cam.cameraFps); d[2].push(cam.detectFps ?? 0); d[3].push(cam.inferenceMsP95);
    if (d[0].length > 900) for (const col of d) col.shift();
    plot.current.setData(d);
  }, [cam]);
  return html`<div class="chart" ref=${el}></div>`;
}

export function CameraGrid({ cameras, zones, latest }) {
  if (!cameras.length) return html`<p class="muted">no camera figures yet</p>`;
  return html`<div class="cameras">${cameras.map((c) => html`<article class="camera" key=${c.id} data-camera=${c.id}>
    <header><h3>${c.id}</h3><span class=${`state ${Q_CLASS[c.quality]}`} data-quality=${c.quality}>${c.quality}</span><span class="muted">${c.state}</span></header>
    <div class="view"><${Live} id=${c.id}/><${Overlay} zones=${zones} camera=${c.id} event=${recent(latest[c.id])}/></div>
    <dl class="figures">
      <dt>camera fps</dt><dd class="fps">${c.cameraFps} / ${c.expectedFps}</dd>
      <dt>detect fps</dt><dd>${fmt(c.detectFps)}</dd><dt>skipped fps</dt><dd>${fmt(c.skippedFps)}</dd>
      <dt>inference</dt><dd>${fmt(c.inferenceMsP50, ' ms')} p50 · ${fmt(c.inferenceMsP95, ' ms')} p95</dd>
      <dt>last frame</dt><dd>${c.lastFrameAgeMs == null ? '—' : `${(c.lastFrameAgeMs / 1000).toFixed(1)} s ago`}</dd>
      <dt>frames</dt><dd class="frames">${c.frames}</dd>
      <dt>last hour</dt><dd>${c.reconnectsLastHour} reconnects · ${c.stallsLastHour} stalls</dd>
    </dl>
    ${c.lastError && html`<p class="reason">${c.lastError}</p>`}
    <${Chart} id=${c.id} cam=${c}/>
  </article>`)}</div>`;
}
