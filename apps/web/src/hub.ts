/**
 * The one shared poller: a single upstream subscription per source, whatever the number of
 * dashboards. Supervisor: its event log over SSE (resumed by seq) and GET /v1/tree at 1 Hz.
 * Inference: GET /events?since= every `eventsPollMs`, /metrics and /zones. Camera: GET /cameras at
 * 1 Hz. Vacuum (optional): GET /volumes at 1 Hz (it carries each volume's floor, which its
 * /metrics does not). Each tick also samples the 15-minute history. Clients subscribe to what the hub emits.
 *
 * INVARIANTS: one loop per source, each with one request in flight at a time; a failed source
 * backs off (up to 5 s) and says so in the stats frame; `stop()` ends every loop and the SSE
 * subscription once.
 */
import type { SafetyEvent } from '../../inference/src/events/store.ts';
import type { TreeEvent } from 'edgevisor';
import { TailLog, sseParser, parseProm } from './event-log.ts';
import { countLastHour, History, problems, qualityOf, quantileMs, restartWords, type Buckets, type Quality } from './stats.ts';
import { UpstreamError, type UpstreamClient } from './upstream.ts';

/** A safety event as the web app serves it: a snapshot URL instead of a file name, no server path. */
export type WebSafetyEvent = Omit<SafetyEvent, 'snapshot' | 'snapshotError'> & { snapshot: string | null; snapshotError: string | null };

/** Removes anything that looks like a server path from a message meant for a browser. */
export const scrubPaths = (s: string) => s.replace(/(?:[A-Za-z]:)?[\\/](?:[\w.@-]+[\\/])+[\w.@-]*/g, '<path>');

export function toWebEvent(e: SafetyEvent): WebSafetyEvent {
  return { ...e, snapshot: e.snapshot ? `/api/events/${e.id}/snapshot.jpg` : null, snapshotError: e.snapshotError ? scrubPaths(e.snapshotError) : null };
}

/** A tree node for the page: the supervisor's snapshot plus the restart in words. */
export interface DashboardNode {
  id: string; parent: string | null; type: string; state: string; since: number; startedAt: number | null;
  restarts: number; lastReason: string | null; lastRestartReason: string | null; lastRestartAt: number | null;
  manuallyStopped: boolean; inner: boolean; stale: boolean; workerState: string | null; probes: { name: string; ok: boolean | null; lastError?: string }[];
}
export interface DashboardTree { name: string; state: string; nodes: DashboardNode[] }

/** Per-camera figures (Frigate's camera stats). Missing upstream fields come out null. */
export interface CameraStats {
  id: string; state: string; expectedFps: number; cameraFps: number; detectFps: number | null; skippedFps: number | null;
  inferenceMsP50: number | null; inferenceMsP95: number | null; lastFrameAgeMs: number | null; frames: number;
  reconnectsLastHour: number; stallsLastHour: number; workerRuns: number | null; quality: Quality; lastError: string | null;
}

/** A data volume as the vacuum measures it (apps/vacuum GET /volumes): by name, never a path. */
export interface DiskStats {
  name: string; freeBytes: number; sizeBytes: number; floorBytes: number | null;
  /** At the measured write rate; null while unknown or when nothing is written. */
  hoursLeft: number | null; alarm: boolean;
}

export interface StatsFrame {
  ts: number; tree: DashboardTree | null; cameras: CameraStats[]; problems: string[];
  /** Empty without a vacuum (VACUUM_URL) or until it answers. */
  disks: DiskStats[];
  upstream: Record<'supervisor' | 'camera' | 'inference' | 'vacuum', { ok: boolean; error?: string }>;
}

export type HubMessage =
  | { kind: 'safety'; event: WebSafetyEvent }
  | { kind: 'supervisor'; event: TreeEvent }
  | { kind: 'stats'; frame: StatsFrame }
  | { kind: 'pin'; id: number; pinned: boolean };

export interface HubOptions {
  supervisor?: UpstreamClient;
  camera?: UpstreamClient;
  inference: UpstreamClient;
  vacuum?: UpstreamClient;
  /** A volume with fewer hours left than this at its write rate is a problem (default 24). */
  diskHoursMin?: number;
  eventsPollMs: number;
  statsMs?: number;
  inferenceBudgetMs: number;
  log: (obj: Record<string, unknown>) => void;
  onUpstreamError?: (u: string) => void;
  /** Counts the SSE subscription's (re)connects, which bypass UpstreamClient.request. */
  onUpstreamRequest?: (u: 'supervisor') => void;
}

interface RawCamera { id: string; state?: string; fps?: number; targetFps?: number; seq?: number; lastFrameAt?: string | null; workerRuns?: number; lastError?: { message?: string; at?: string } | null; reconnectsLastHour?: number; stallsLastHour?: number }

export type Hub = ReturnType<typeof createHub>;

export function createHub(o: HubOptions) {
  const safety = new TailLog<WebSafetyEvent>((e) => e.id);
  const supervisor = new TailLog<TreeEvent>((e) => e.seq);
  const listeners = new Set<(m: HubMessage) => void>();
  const history = new History();
  const startedAt = Date.now();
  const statsMs = o.statsMs ?? 1000;
  const abort = new AbortController();
  const timers = new Set<NodeJS.Timeout>();
  const status: StatsFrame['upstream'] = { supervisor: { ok: !!o.supervisor }, camera: { ok: !!o.camera }, inference: { ok: false }, vacuum: { ok: !!o.vacuum } };
  if (!o.supervisor) status.supervisor = { ok: false, error: 'not configured (SUPERVISOR_URL)' };
  if (!o.camera) status.camera = { ok: false, error: 'not configured (CAMERA_URL)' };
  if (!o.vacuum) status.vacuum = { ok: false, error: 'not configured (VACUUM_URL)' };
  let disks: DiskStats[] = [];
  /** inference_data_writable: null until seen (an older inference app does not export it). */
  let dataWritable: boolean | null = null;
  let tree: DashboardTree | null = null;
  let rawCameras: RawCamera[] = [];
  let zones: unknown = null;
  const lastRestart = new Map<string, { words: string; at: number }>();
  const perCamera = new Map<string, { reconnects: number[]; stalls: number[]; lastErrorAt?: string; state?: string }>();
  interface MetricsSample { ts: number; frames: Map<string, number>; dropped: Map<string, number>; run: Buckets }
  let metricsNow = null as MetricsSample | null;
  const metricsPast: MetricsSample[] = [];
  let lastStats: StatsFrame | null = null;

  const emit = (m: HubMessage) => {
    for (const l of listeners) l(m);
  };
  const failed = (source: keyof StatsFrame['upstream'], err: unknown) => {
    const e = err as Error;
    // One log line per change of state, not one per failed poll.
    const changed = status[source].ok || status[source].error !== e.message;
    if (!(err instanceof UpstreamError)) o.log({ level: 'error', msg: `${source} loop failed`, err });
    else if (changed) o.log({ level: 'warn', msg: e.message, detail: err.detail });
    o.onUpstreamError?.(source);
    status[source] = { ok: false, error: err instanceof UpstreamError ? err.message : 'internal error' };
  };

  /** Runs `step` forever: every `everyMs`, backing off to 5 s while it fails. */
  const loop = (source: keyof StatsFrame['upstream'], everyMs: number, step: () => Promise<void>) => {
    let delay = everyMs;
    const run = async () => {
      if (abort.signal.aborted) return;
      try {
        await step();
        if (!status[source].ok) o.log({ level: 'info', msg: `the ${source} app answers again` });
        status[source] = { ok: true };
        delay = everyMs;
      } catch (err) {
        if (abort.signal.aborted) return;
        failed(source, err);
        delay = Math.min(Math.max(delay * 2, everyMs), 5000);
      }
      if (abort.signal.aborted) return;
      const t = setTimeout(() => { timers.delete(t); void run(); }, delay);
      timers.add(t);
    };
    void run();
  };

  // Safety events: page forward from the newest known id.
  loop('inference', o.eventsPollMs, async () => {
    if (safety.floor === null) {
      const page = await o.inference.json<{ events: SafetyEvent[]; last: number }>('/events?latest=200');
      const first = page.events[0];
      safety.reset(first ? first.id - 1 : page.last, page.events.map(toWebEvent));
      return;
    }
    for (;;) {
      const page = await o.inference.json<{ events: SafetyEvent[] }>(`/events?since=${safety.last}&limit=500`);
      for (const e of page.events) {
        const w = toWebEvent(e);
        if (safety.push(w)) emit({ kind: 'safety', event: w });
      }
      if (page.events.length < 500) break;
    }
  });

  // Inference metrics and zones (zones rarely change: once a minute).
  let zonesAt = 0;
  const wanted = new Set(['inference_frames_total', 'inference_dropped_frames_total', 'inference_latency_seconds_bucket', 'inference_data_writable']);
  loop('inference', statsMs, async () => {
    const text = await (await o.inference.request('/metrics')).text();
    const s = { ts: Date.now(), frames: new Map<string, number>(), dropped: new Map<string, number>(), run: new Map<number, number>() };
    let writable: boolean | null = null;
    for (const p of parseProm(text, wanted)) {
      if (p.name === 'inference_data_writable') writable = p.value === 1;
      if (p.name === 'inference_frames_total' && p.labels['camera']) s.frames.set(p.labels['camera'], p.value);
      else if (p.name === 'inference_dropped_frames_total' && p.labels['camera']) s.dropped.set(p.labels['camera'], p.value);
      else if (p.name === 'inference_latency_seconds_bucket' && p.labels['stage'] === 'run') s.run.set(p.labels['le'] === '+Inf' ? Infinity : Number(p.labels['le']), p.value);
    }
    dataWritable = writable;
    if (metricsNow) metricsPast.push(metricsNow);
    while (metricsPast.length && s.ts - metricsPast[0]!.ts > 60_000) metricsPast.shift();
    metricsNow = s;
    if (Date.now() - zonesAt > 60_000) {
      zonesAt = Date.now();
      zones = await o.inference.json<unknown>('/zones').catch((err: unknown) => {
        // An inference app without /zones (older build): the page draws no zones.
        if (err instanceof UpstreamError && err.status === 404) return null;
        throw err;
      });
    }
  });

  if (o.camera) {
    const camera = o.camera;
    loop('camera', statsMs, async () => {
      rawCameras = (await camera.json<{ cameras: RawCamera[] }>('/cameras')).cameras;
    });
  }

  if (o.vacuum) {
    const vacuum = o.vacuum;
    loop('vacuum', statsMs, async () => {
      const body = await vacuum.json<{ volumes?: Partial<DiskStats>[] }>('/volumes');
      const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
      disks = (body.volumes ?? []).filter((v) => typeof v.name === 'string').map((v) => ({
        name: v.name!, freeBytes: num(v.freeBytes) ?? 0, sizeBytes: num(v.sizeBytes) ?? 0, floorBytes: num(v.floorBytes), hoursLeft: num(v.hoursLeft), alarm: v.alarm === true,
      }));
    });
  }

  if (o.supervisor) {
    const sup = o.supervisor;
    loop('supervisor', statsMs, async () => {
      tree = enrichTree(await sup.json<RawTree>('/v1/tree'));
    });
    void subscribeSupervisor(sup);
  }

  /** The supervisor's event log over SSE, resumed from the last seq seen after every drop. */
  async function subscribeSupervisor(sup: UpstreamClient) {
    for (let delay = 500; !abort.signal.aborted; delay = Math.min(delay * 2, 5000)) {
      try {
        // On every (re)connect: a supervisor whose log is behind ours started on a new event file.
        const head = await sup.json<{ lastSeq: number }>('/v1/events?since=0&limit=1');
        if (supervisor.floor === null || head.lastSeq < supervisor.last!) supervisor.reset(Math.max(0, head.lastSeq - 500));
        const ctl = new AbortController();
        const onAbort = () => ctl.abort();
        abort.signal.addEventListener('abort', onAbort, { once: true });
        const connect = setTimeout(() => ctl.abort(), 5000);
        o.onUpstreamRequest?.('supervisor');
        const res = await fetch(sup.url(`/v1/events?since=${supervisor.last}`), { headers: { ...sup.headers, accept: 'text/event-stream' }, signal: ctl.signal });
        clearTimeout(connect);
        if (res.status !== 200 || !res.body) throw new UpstreamError('supervisor', `the supervisor app answered ${res.status}`, res.status);
        delay = 500;
        // The supervisor sends a heartbeat every 15 s: 45 s of silence is a dead connection.
        let idle = setTimeout(() => ctl.abort(), 45_000);
        const feed = sseParser((f) => {
          let ev: TreeEvent;
          try { ev = JSON.parse(f.data) as TreeEvent; } catch { return; }
          noteRestart(ev);
          if (supervisor.push(ev)) emit({ kind: 'supervisor', event: ev });
        });
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            clearTimeout(idle);
            idle = setTimeout(() => ctl.abort(), 45_000);
            feed(value);
          }
        } finally {
          clearTimeout(idle);
          abort.signal.removeEventListener('abort', onAbort);
        }
      } catch (err) {
        if (abort.signal.aborted) return;
        failed('supervisor', err instanceof UpstreamError ? err : new UpstreamError('supervisor', 'the supervisor app is unavailable (event stream dropped)', undefined, undefined, String(err)));
      }
      await new Promise((r) => { const t = setTimeout(r, delay); timers.add(t); });
    }
  }

  function noteRestart(ev: TreeEvent) {
    if (ev.type === 'restart' || (ev.type === 'manual' && ev.data?.['action'] === 'restart')) lastRestart.set(ev.child, { words: restartWords(ev), at: ev.ts });
  }

  function enrichTree(t: RawTree): DashboardTree {
    return {
      name: t.name, state: t.state,
      nodes: t.nodes.map((n) => ({
        id: n.id, parent: n.parent, type: n.type, state: n.state, since: n.since, startedAt: n.startedAt, restarts: n.restarts,
        lastReason: n.lastReason, manuallyStopped: n.manuallyStopped, inner: n.inner === true, stale: n.stale === true,
        lastRestartReason: n.lastRestartReason ?? lastRestart.get(n.id)?.words ?? (n.restarts > 0 ? n.lastReason : null),
        lastRestartAt: n.lastRestartAt ?? lastRestart.get(n.id)?.at ?? null,
        // A typed worker's own state (camera/dock: streaming); info.workerState from older camera apps.
        workerState: typeof n.workerState === 'string' ? n.workerState : typeof n.info?.['workerState'] === 'string' ? (n.info['workerState'] as string) : null,
        probes: (n.probes ?? []).map((p) => ({ name: p.name, ok: p.ok, ...(p.lastError ? { lastError: scrubPaths(p.lastError) } : {}) })),
      })),
    };
  }

  function cameraStats(now: number): CameraStats[] {
    const past = metricsPast.find((m) => now - m.ts <= 6000) ?? metricsPast.at(-1);
    const hourAgo = metricsPast[0];
    return rawCameras.map((c) => {
      let pc = perCamera.get(c.id);
      if (!pc) perCamera.set(c.id, (pc = { reconnects: [], stalls: [] }));
      if (c.lastError?.at && c.lastError.at !== pc.lastErrorAt) { pc.lastErrorAt = c.lastError.at; pc.reconnects.push(now); }
      if (c.state === 'stalled' && pc.state !== 'stalled') pc.stalls.push(now);
      pc.state = c.state;
      const rate = (m: 'frames' | 'dropped') => {
        if (!metricsNow || !past) return null;
        const dt = (metricsNow.ts - past.ts) / 1000;
        const a = metricsNow[m].get(c.id);
        if (dt <= 0 || a === undefined) return a === undefined && m === 'dropped' && metricsNow.frames.has(c.id) ? 0 : null;
        return Math.round(((a - (past[m].get(c.id) ?? 0)) / dt) * 10) / 10;
      };
      const expected = c.targetFps ?? 0;
      const fps = c.fps ?? 0;
      const reconnects = c.reconnectsLastHour ?? countLastHour(pc.reconnects, now);
      const stalls = c.stallsLastHour ?? countLastHour(pc.stalls, now);
      const lastAt = c.lastFrameAt ? Date.parse(c.lastFrameAt) : NaN;
      return {
        id: c.id, state: c.state ?? 'unknown', expectedFps: expected, cameraFps: fps, detectFps: rate('frames'), skippedFps: rate('dropped'),
        inferenceMsP50: metricsNow ? quantileMs(metricsNow.run, hourAgo?.run, 0.5) : null,
        inferenceMsP95: metricsNow ? quantileMs(metricsNow.run, hourAgo?.run, 0.95) : null,
        lastFrameAgeMs: Number.isFinite(lastAt) ? Math.max(0, now - lastAt) : null, frames: c.seq ?? 0,
        reconnectsLastHour: reconnects, stallsLastHour: stalls, workerRuns: c.workerRuns ?? null,
        quality: qualityOf(fps, expected, reconnects, stalls), lastError: c.lastError?.message ? scrubPaths(c.lastError.message) : null,
      };
    });
  }

  // The 1 Hz stats frame, and the history sample, from whatever the loops last saw.
  const tick = setInterval(() => {
    const now = Date.now();
    const cameras = status.camera.ok ? cameraStats(now) : [];
    for (const c of cameras) history.add(c.id, { ts: now, cameraFps: c.cameraFps, detectFps: c.detectFps ?? 0, inferenceMs: c.inferenceMsP95 });
    const p95 = cameras.find((c) => c.inferenceMsP95 !== null)?.inferenceMsP95 ?? null;
    lastStats = {
      ts: now, tree, cameras, upstream: structuredClone(status), disks: status.vacuum.ok ? disks : [],
      problems: problems({
        disks: o.vacuum && status.vacuum.ok ? disks : [], disksError: o.vacuum && !status.vacuum.ok ? status.vacuum.error ?? 'no answer yet' : null,
        diskHoursMin: o.diskHoursMin ?? 24, dataWritable: status.inference.ok ? dataWritable : null, now, startedAt, tree, treeError: o.supervisor && !status.supervisor.ok ? status.supervisor.error ?? 'unavailable' : null, cameras: cameras.map((c) => ({ id: c.id, state: c.state, fps: c.cameraFps, expectedFps: c.expectedFps })), camerasError: o.camera && !status.camera.ok ? status.camera.error ?? 'unavailable' : null, inferenceMs: p95, inferenceBudgetMs: o.inferenceBudgetMs, inferenceError: status.inference.ok ? null : status.inference.error ?? 'unavailable' }),
    };
    emit({ kind: 'stats', frame: lastStats });
  }, statsMs);

  return {
    safety, supervisor, history,
    get stats() { return lastStats; },
    get zones() { return zones; },
    get tree() { return tree; },
    subscribe(l: (m: HubMessage) => void) {
      listeners.add(l);
      return () => void listeners.delete(l);
    },
    get clients() { return listeners.size; },
    /** A technician changed a pin through the web app: update the tail and tell every dashboard. */
    pinned(e: SafetyEvent) {
      const i = safety.items.findIndex((x) => x.id === e.id);
      if (i >= 0) safety.items[i] = toWebEvent(e);
      emit({ kind: 'pin', id: e.id, pinned: e.pinned });
    },
    stop() {
      abort.abort();
      clearInterval(tick);
      for (const t of timers) clearTimeout(t);
      timers.clear();
      listeners.clear();
    },
  };
}

interface RawTree {
  name: string; state: string;
  nodes: { id: string; parent: string | null; type: string; state: string; since: number; startedAt: number | null; restarts: number; lastReason: string | null; lastRestartReason?: string | null; lastRestartAt?: number | null; manuallyStopped: boolean; inner?: boolean; stale?: boolean; info?: Record<string, unknown>; workerState?: string; probes?: { name: string; ok: boolean | null; lastError?: string }[] }[];
}
