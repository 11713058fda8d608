/**
 * Pure figures for the dashboard: per-camera stats and their quality word, histogram quantiles,
 * the 15-minute history ring, restart words, and the "potential problems" list (disk lines from the
 * vacuum's volumes and inference's data_writable gauge). No I/O and no
 * clock of its own (`now` is passed in), so each is a plain function of its inputs.
 */

/** Connection quality of a camera, after Frigate's rules (docs/architecture.md, dashboard). */
export type Quality = 'excellent' | 'fair' | 'poor' | 'unusable';

/**
 * Frigate's rules, per hour: excellent when fps >= 0.9x expected with no reconnect and < 5 stalls;
 * fair when >= 0.6x with <= 2 reconnects; unusable below 1 fps (about zero) or > 10 reconnects;
 * poor otherwise.
 */
export function qualityOf(fps: number, expected: number, reconnects: number, stalls: number): Quality {
  if (fps < Math.min(1, expected * 0.5) || reconnects > 10) return 'unusable';
  if (fps >= 0.9 * expected && reconnects === 0 && stalls < 5) return 'excellent';
  if (fps >= 0.6 * expected && reconnects <= 2) return 'fair';
  return 'poor';
}

/** One Prometheus histogram's cumulative buckets: upper bound (s) -> count. */
export type Buckets = ReadonlyMap<number, number>;

/** Quantile q (0..1) of the observations between two snapshots of a histogram, in ms; null if none. */
export function quantileMs(now: Buckets, before: Buckets | undefined, q: number): number | null {
  const bounds = [...now.keys()].sort((a, b) => a - b);
  const delta = bounds.map((b) => (now.get(b) ?? 0) - (before?.get(b) ?? 0));
  const total = delta.at(-1) ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (let i = 0; i < bounds.length; i++) {
    const c = delta[i]!;
    if (c >= rank) {
      const b = bounds[i]!;
      // +Inf: the largest finite bound is the best we can say.
      if (!Number.isFinite(b)) return round(prevBound * 1000);
      const within = c - prevCount > 0 ? (rank - prevCount) / (c - prevCount) : 1;
      return round((prevBound + (b - prevBound) * within) * 1000);
    }
    prevBound = bounds[i]!;
    prevCount = c;
  }
  return round(prevBound * 1000);
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** A sample of one camera, once a second. */
export interface CameraSample { ts: number; cameraFps: number; detectFps: number; inferenceMs: number | null }

/**
 * A fixed ring of samples per camera (15 min at 1 Hz = 900 by default): columns, as uPlot wants
 * them, without shifting arrays every second.
 */
export class History {
  private readonly rings = new Map<string, { items: CameraSample[]; next: number }>();
  constructor(readonly size = 900) {}

  add(camera: string, s: CameraSample): void {
    let r = this.rings.get(camera);
    if (!r) this.rings.set(camera, (r = { items: [], next: 0 }));
    if (r.items.length < this.size) r.items.push(s);
    else r.items[r.next] = s;
    r.next = (r.next + 1) % this.size;
  }

  /** Oldest first, as columns: ts (unix s), camera fps, detect fps, inference ms. */
  columns(camera: string): { ts: number[]; cameraFps: number[]; detectFps: number[]; inferenceMs: (number | null)[] } | undefined {
    const r = this.rings.get(camera);
    if (!r) return undefined;
    const ordered = r.items.length < this.size ? r.items : [...r.items.slice(r.next), ...r.items.slice(0, r.next)];
    return {
      ts: ordered.map((s) => Math.round(s.ts / 100) / 10),
      cameraFps: ordered.map((s) => s.cameraFps),
      detectFps: ordered.map((s) => s.detectFps),
      inferenceMs: ordered.map((s) => s.inferenceMs),
    };
  }

  cameras(): string[] {
    return [...this.rings.keys()];
  }
}

/** Timestamps in a sliding hour (reconnects, stalls seen by the web app). */
export function countLastHour(times: number[], now: number): number {
  while (times.length && now - times[0]! > 3_600_000) times.shift();
  return times.length;
}

/** A restart as the supervisor's event log records it (type 'restart' or 'manual'). */
export interface RestartEvent { type: string; reason: string; data?: Record<string, unknown> }

/**
 * Words a technician understands for the supervisor's restart decision. The tree helper's
 * `lastRestartReason` is preferred where the supervisor sends it; this is the fallback from the
 * event log (the last transition's reason is not the why: it says "startup probes passed").
 */
export function restartWords(ev: RestartEvent): string {
  const d = ev.data ?? {};
  if (ev.type === 'manual') {
    const via = d['via'] === 'dashboard' ? 'from the dashboard' : d['via'] ? `via ${String(d['via'])}` : '';
    return `${String(d['action'] ?? 'restart')}ed by a ${String(d['role'] ?? 'technician')} ${via}`.replace('stoped', 'stopped').trim();
  }
  const cause = d['cause'];
  const exitCode = d['exitCode'] ?? d['code'];
  // The same words as the supervisor's own (core/reason-words.ts on the tree branch).
  if (cause === 'exit') {
    if (d['oom'] === true) return `crashed: exit code ${String(exitCode ?? 137)}, killed by the OOM killer`;
    if (d['signal']) return `killed by signal ${String(d['signal'])}`;
    if (exitCode === 0) return 'exited on its own (exit code 0)';
    return exitCode !== undefined && exitCode !== null ? `crashed: exit code ${String(exitCode)}` : `crashed: ${ev.reason}`;
  }
  if (cause === 'probe' || cause === 'heartbeat') return `hung: ${ev.reason}`;
  // A typed worker's broken deadline: the supervisor's words name the constraint.
  if (cause === 'deadline' && typeof d['words'] === 'string') return d['words'];
  if (cause === 'sibling') return `restarted with ${String(d['sibling'] ?? 'a sibling')} (${String(d['strategy'] ?? 'strategy')})`;
  return ev.reason;
}

/** What the "potential problems" banner is built from. */
export interface ProblemInputs {
  now: number;
  /** When the web app started: camera problems wait 120 s after it (Frigate skips them too). */
  startedAt: number;
  tree: { state: string; nodes: { id: string; state: string; parent: string | null; stale?: boolean }[] } | null;
  treeError: string | null;
  cameras: { id: string; state: string; fps: number; expectedFps: number }[];
  camerasError: string | null;
  inferenceMs: number | null;
  inferenceBudgetMs: number;
  inferenceError: string | null;
  /** The vacuum's volumes (empty without a vacuum); `disksError` when it is configured but not answering. */
  disks?: readonly { name: string; freeBytes: number; floorBytes: number | null; hoursLeft: number | null; alarm: boolean }[];
  disksError?: string | null;
  /** A volume with fewer hours left than this is a problem. */
  diskHoursMin?: number;
  /** inference_data_writable: false when the inference app cannot write its data volume; null unknown. */
  dataWritable?: boolean | null;
}

/** 1536 -> "1.5 KB" (decimal units, as the vacuum's config takes them). */
export function humanBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (Math.abs(n) >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/** Disk lines of the banner: the vacuum's alarm first, then below the floor, then hours left. */
function diskProblems(i: ProblemInputs): string[] {
  const out: string[] = [];
  if (i.disksError) out.push(`vacuum unreachable: ${i.disksError} (disk space is not watched)`);
  if (i.dataWritable === false) out.push('inference cannot write its data volume (safety events are not being saved)');
  const minHours = i.diskHoursMin ?? 24;
  for (const d of i.disks ?? []) {
    const free = humanBytes(d.freeBytes);
    if (d.alarm) out.push(`disk ${d.name} low: ${free} free and nothing more the vacuum may delete (only pinned or newest events left)`);
    else if (d.floorBytes !== null && d.freeBytes < d.floorBytes) out.push(`disk ${d.name} low: ${free} free, below its floor of ${humanBytes(d.floorBytes)}`);
    else if (d.hoursLeft !== null && d.hoursLeft < minHours) out.push(`disk ${d.name} low: ${free} free, full in about ${Math.max(0, Math.round(d.hoursLeft))} h at the current rate`);
  }
  return out;
}

/** One line per problem, most serious first; an empty list means all is well. */
export function problems(i: ProblemInputs): string[] {
  const out: string[] = [];
  if (i.tree && (i.tree.state === 'gave_up' || i.tree.state === 'failed')) out.push(`the supervision tree gave up (${i.tree.state}): a technician must act`);
  if (i.treeError) out.push(`supervisor unreachable: ${i.treeError}`);
  for (const n of i.tree?.nodes ?? []) {
    if (n.parent === null) continue;
    if (n.state === 'failed' || n.state === 'gave_up') out.push(`${n.id} has failed`);
    else if (n.state === 'backoff') out.push(`${n.id} is in backoff (restarting)`);
    else if (n.state === 'unhealthy') out.push(`${n.id} is unhealthy`);
    else if (n.stale) out.push(`${n.id}: last known state only (its app's tree is not answering)`);
  }
  if (i.camerasError) out.push(`camera app unreachable: ${i.camerasError}`);
  if (i.inferenceError) out.push(`inference app unreachable: ${i.inferenceError}`);
  const settled = i.now - i.startedAt > 120_000;
  for (const c of i.cameras) {
    if (c.state !== 'streaming') out.push(`camera ${c.id} is ${c.state === 'waiting' ? 'offline (no frame yet)' : c.state}`);
    else if (settled && c.fps < 0.9 * c.expectedFps) out.push(`camera ${c.id} below its expected fps (${c.fps} of ${c.expectedFps})`);
  }
  if (i.inferenceMs !== null && i.inferenceMs > i.inferenceBudgetMs) out.push(`inference slower than its budget (${i.inferenceMs} ms p95, budget ${i.inferenceBudgetMs} ms)`);
  out.push(...diskProblems(i));
  return out;
}
