/**
 * Cameras the onvif service knows (found by WS-Discovery, or added there by address) get a worker
 * in the running controller, without a restart: the controller's tree has a simple_one_for_one
 * supervisor `discovered` whose template runs a camera worker, and this poller adds one child per
 * new camera (`tree.addChild('discovered', { id })`, the camera id as the child id). The camera's
 * source is `onvif: { device: <id> }`: its RTSP URI comes from the service like any configured
 * ONVIF camera's. What it gets (fps, size, detect, heartbeat, profile, RTSP credentials) and which
 * cameras are adopted (allow / deny by id or manufacturer) come from the cameras file's
 * `discovered:` section (config.ts), else a configured `onvif: { device }` camera's defaults.
 *
 * A camera the service still lists keeps its worker whatever its status there (offline: the
 * worker reconnects, as a configured camera's does). One the service no longer lists (a
 * technician deleted it there) loses its worker (`tree.removeChild`) once it has been missing
 * from `forget_after_polls` lists in a row (default 3), so one odd answer removes nothing; a poll
 * without a list (service down, timed out, an HTTP error, a body that is not a camera list)
 * counts for nothing, so an unreachable service never removes a worker. The decisions are pure
 * (discovered-plan.ts); this module does the fetch and applies them.
 *
 * A worker removed this way is forgotten: its camera leaves the controller's map (/cameras, the
 * inner tree) and, once the worker has stopped and left the tree, `forget` runs (app.ts: its
 * frame ring file goes).
 *
 * A technician can also add and delete these workers through the supervisor (`edgevisor add
 * camera/discovered --id <device>`, `edgevisor delete camera/<id>`, forwarded to this app's
 * inner-tree routes): `children` registers the camera before its worker is added, exactly as a
 * poll does (`adopt`, with the `discovered:` settings; allow / deny are the poll's, not the
 * technician's), and forgets it when its worker is deleted, as a removal above does. A camera
 * deleted by hand (through these routes or the tree) is not adopted again by the poll until it is
 * added by hand, or the controller restarts. A camera added by hand is the technician's: the poll
 * counts no misses for it and never removes it; a deleted camera leaves no miss count behind.
 *
 * One GET /cameras per period, bounded by a deadline, never overlapping; a service that is down
 * costs one failed poll per period and nothing else. Log lines name the camera (`camera <id>: ...`,
 * the JSON line's child) and never the service's URL.
 */
import { deadline } from '../../common/src/index.ts';
import { EdgevisorError, codes } from 'edgevisor';
import type { Actor, ChildSnapshot, InnerRoutesOptions, InprocWorker, Tree } from 'edgevisor';
import { cameraId, defaultDiscovered, discoveredCamera, type CameraConfig, type DiscoveredConfig } from './config.ts';
import { CameraRuntime } from './camera-worker.ts';
import { listingIsPartial, parseListing, planPoll } from './discovered-plan.ts';

/** The simple_one_for_one supervisor of the discovered cameras, in the controller's tree. */
export const DISCOVERED = 'discovered';
const POLL_TIMEOUT_MS = 3_000;
const ACTOR = { role: 'technician', via: 'discovery' } as const;

export interface DiscoveredOptions {
  /** The onvif service (ONVIF_URL). */
  onvifUrl: string;
  /** Polling period of its camera list (default 5 s). */
  everyMs?: number;
  /** The cameras file's `discovered:` section (default: defaultDiscovered). */
  config?: Readonly<DiscoveredConfig>;
  log?: (line: string) => void;
  /** Called once a removed camera's worker has stopped and left the tree (app.ts: its frame ring goes). */
  forget?: (id: string) => void;
}

/** The config a discovered camera gets: the `discovered:` settings on source `onvif: { device: id }`. */
export function discoveredConfig(id: string, onvifUrl: string, config: Readonly<DiscoveredConfig> = defaultDiscovered): CameraConfig {
  return discoveredCamera(id, onvifUrl, config);
}

/**
 * The template's worker: the camera runtime registered for `ctx.id`, run by `makeWorker`.
 * `cameras` is the controller's map: a discovered camera joins it (so /cameras, frames and the
 * inner tree serve it) before its child is added. A typed worker: its states and deadlines are
 * those of a worker for `sample` (every discovered camera has the same defaults).
 */
export function discoveredWorker(cameras: ReadonlyMap<string, CameraRuntime>, makeWorker: (cam: CameraRuntime) => InprocWorker, sample: CameraConfig): InprocWorker {
  const proto = makeWorker(new CameraRuntime(sample)) as InprocWorker & { lifecycle?: unknown; states?: unknown };
  const run: InprocWorker = (ctx) => {
    const cam = cameras.get(ctx.id);
    if (!cam) return Promise.reject(new Error(`no discovered camera "${ctx.id}"`));
    return makeWorker(cam)(ctx);
  };
  return proto.lifecycle ? Object.assign(run, { lifecycle: proto.lifecycle, states: proto.states }) : run;
}

export interface PollResult {
  /** False when the service gave no camera list (then nothing was added or removed). */
  listed: boolean;
  added: string[];
  removed: string[];
}

export interface DiscoveredPoller {
  /** One poll now (tests). */
  poll(): Promise<PollResult>;
  /** The adopted cameras and their polls in a row missing from the service's list. */
  missing(): ReadonlyMap<string, number>;
  /** Polls done so far: with a camera list (`partial`: of those, lists the service marked not whole yet), and without one (service down, HTTP error, bad body). */
  stats(): { listed: number; failed: number; partial: number };
  start(): void;
  stop(): void;
  /** Add and delete by a technician (registerInnerTreeRoutes' `children`): see the top of this file. */
  children: Required<NonNullable<InnerRoutesOptions['children']>>;
}

export function createDiscoveredPoller(tree: Tree, cameras: Map<string, CameraRuntime>, opts: DiscoveredOptions): DiscoveredPoller {
  const everyMs = opts.everyMs ?? 5_000;
  const cfg = opts.config ?? defaultDiscovered;
  const base = opts.onvifUrl.replace(/\/+$/, '');
  const stopping = new AbortController();
  const log = (line: string) => opts.log?.(line);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<PollResult> | undefined;
  let lastError = '';
  const counts = { listed: 0, failed: 0, partial: 0 };
  let partialSaid = false;
  /** Cameras this poller gave a worker, with their polls in a row missing from the list. */
  let adopted = new Map<string, number>();
  /** Removed, waiting for their node to leave the tree before `forget`. */
  const leaving = new Set<string>();
  /** Cameras a technician added by hand: theirs, never counted missing nor removed by the poll. */
  const byHand = new Set<string>();
  /** Deleted by a technician: the poll leaves them alone until one is added by hand (bounded by the deletes). */
  const declined = new Set<string>();
  /** Cameras refused or waiting, by what was said about them last (said again only when it changes). */
  const said = new Map<string, string>();
  /** Devices a configured camera already streams (`onvif: { device }`): no second worker for them. */
  const configuredDevices = () => new Set([...cameras.values()].flatMap((c) => (c.config.source.kind === 'onvif' && c.config.source.device ? [c.config.source.device] : [])));
  const sayOnce = (id: string, text: string) => {
    if (said.get(id) === text) return;
    said.set(id, text);
    log(text);
  };
  /** Registers the camera (so its worker finds it) with the `discovered:` settings, then adds its worker; forgets the camera if the tree refuses. */
  const adopt = (id: string, actor: Actor): { snap: ChildSnapshot; config: CameraConfig } => {
    const config = discoveredConfig(id, base, cfg);
    cameras.set(id, new CameraRuntime(config));
    try {
      return { snap: tree.addChild(DISCOVERED, { id }, actor), config };
    } catch (err) {
      cameras.delete(id);
      throw err;
    }
  };
  /** A worker a technician deleted: forgotten (its ring goes once it left the tree), no miss count kept, not adopted again by the poll. */
  const declinedByHand = (id: string, how: string) => {
    adopted.delete(id);
    byHand.delete(id);
    cameras.delete(id);
    said.delete(id);
    leaving.add(id);
    declined.add(id);
    log(`camera ${id}: its worker was deleted ${how}: not adopted again by the poll until it is added by hand`);
  };

  const fetchListing = async () => {
    const dl = deadline(POLL_TIMEOUT_MS, stopping.signal);
    let res: Response;
    let body: unknown;
    try {
      res = await fetch(`${base}/cameras`, { signal: dl.signal });
      // A body that is not JSON is a body that is not a camera list (below); an error's is dropped.
      body = res.ok ? await res.json().catch(() => undefined) : await res.body?.cancel().catch(() => undefined);
    } catch (err) {
      throw new Error(dl.expired() ? `did not answer within ${POLL_TIMEOUT_MS} ms` : `unreachable: ${(err as Error).message}`);
    } finally {
      dl.clear();
    }
    if (!res.ok) throw new Error(`answered GET /cameras with HTTP ${res.status}`);
    try {
      return { cameras: parseListing(body), partial: listingIsPartial(body) };
    } catch (err) {
      throw new Error(`gave no camera list: ${(err as Error).message}`);
    }
  };

  const settle = () => {
    for (const id of leaving) {
      if (tree.child(id)) continue;
      leaving.delete(id);
      try {
        opts.forget?.(id);
      } catch (err) {
        log(`camera ${id}: its worker is gone, but cleaning up after it failed: ${(err as Error).message}`);
      }
    }
  };

  const pollOnce = async (): Promise<PollResult> => {
    settle();
    let listing;
    try {
      listing = await fetchListing();
    } catch (err) {
      const text = `camera: onvif service ${(err as Error).message}; discovered workers kept as they are`;
      if (text !== lastError && !stopping.signal.aborted) log(text);
      lastError = text;
      counts.failed++;
      return { listed: false, added: [], removed: [] };
    }
    if (stopping.signal.aborted) return { listed: false, added: [], removed: [] };
    if (lastError) log('camera: onvif service answers again');
    lastError = '';
    counts.listed++;
    const { cameras: listed, partial } = listing;
    if (partial && !partialSaid) log('camera: the onvif service has just started and its first discovery run has not finished: cameras missing from its list are not counted missing until it has');
    partialSaid = partial;
    if (partial) counts.partial++;
    const configured = configuredDevices();
    // A camera whose child is gone without `children.remove` was deleted through the tree itself
    // (Tree.removeChild): a technician's choice too.
    for (const id of [...adopted.keys(), ...byHand]) if (!tree.child(id)) declinedByHand(id, 'through the tree');
    const here = new Set(listed.map((c) => c.id));
    for (const id of said.keys()) if (!here.has(id)) said.delete(id);
    const plan = planPoll(listed, adopted, cfg, (id) => cameras.has(id) || configured.has(id) || !!tree.child(id) || leaving.has(id) || declined.has(id), partial);
    adopted = plan.missing;
    const removed: string[] = [];
    for (const id of plan.remove) {
      try {
        tree.removeChild(id, ACTOR);
        removed.push(id);
        log(`camera ${id}: missing from the onvif service's camera list ${cfg.forgetAfterPolls} poll(s) in a row (deleted or expired there): its worker is removed`);
      } catch (err) {
        log(`camera ${id}: missing from the onvif service's camera list, but its worker cannot be removed: ${(err as Error).message}`);
      }
      cameras.delete(id);
      leaving.add(id);
      said.delete(id);
    }
    for (const [id, misses] of adopted) if (misses > 0) log(`camera ${id}: missing from the onvif service's camera list (${misses} of ${cfg.forgetAfterPolls} polls before its worker is removed)`);
    for (const r of plan.refused) sayOnce(r.id, `camera ${r.id}: discovered, not adopted: ${r.why}`);
    for (const id of plan.waiting) sayOnce(id, `camera ${id}: discovered, not adopted yet: its manufacturer is not known yet (discovered.allow/deny name manufacturers)`);
    const added: string[] = [];
    for (const id of plan.adopt) {
      if (!cameraId.pattern.test(id)) {
        sayOnce(id, `camera: discovered camera "${id.slice(0, 63)}" not adopted: its id is not ${cameraId.expected}`);
        continue;
      }
      try {
        const { config } = adopt(id, ACTOR);
        added.push(id);
        adopted.set(id, 0);
        said.delete(id);
        log(`camera ${id}: discovered, gets its worker (${describe(config)})`);
      } catch (err) {
        sayOnce(id, `camera ${id}: discovered, not adopted: ${(err as Error).message}`);
      }
    }
    settle();
    return { listed: true, added, removed };
  };
  // Polls never overlap: a test's poll() while the timer's runs joins it.
  const poll = () => (running ??= pollOnce().finally(() => { running = undefined; }));

  const tick = () => {
    timer = undefined;
    void poll().finally(() => {
      if (!stopping.signal.aborted) timer = setTimeout(tick, everyMs);
    });
  };
  return {
    poll,
    missing: () => adopted,
    stats: () => ({ ...counts }),
    start() {
      if (!timer && !stopping.signal.aborted) timer = setTimeout(tick, 0);
    },
    stop() {
      stopping.abort();
      clearTimeout(timer);
      timer = undefined;
    },
    children: {
      add(parent, child, actor) {
        if (parent !== DISCOVERED) return tree.addChild(parent, child, actor);
        const o = child !== null && typeof child === 'object' && !Array.isArray(child) ? (child as Record<string, unknown>) : {};
        const id = o['id'];
        if (typeof id !== 'string' || !cameraId.pattern.test(id)) throw new EdgevisorError(codes.SPEC_INVALID, `child.id: a discovered camera's worker is named by its camera's ONVIF device id: expected ${cameraId.expected}, got ${id === undefined ? 'nothing' : JSON.stringify(id).slice(0, 70)}`);
        const extra = Object.keys(o).find((k) => k !== 'id');
        if (extra) throw new EdgevisorError(codes.SPEC_INVALID, `child.${extra}: unknown field; a discovered camera's worker takes only an id (its settings are the cameras file's discovered: section)`);
        if (cameras.has(id) || tree.child(id)) throw new EdgevisorError(codes.CHILD_EXISTS, `the camera controller already has a camera "${id}"`);
        if (configuredDevices().has(id)) throw new EdgevisorError(codes.STATE_CONFLICT, `a configured camera streams ONVIF device "${id}" already`);
        // A worker of the same id that has just left the tree: its ring goes before the new one writes its own.
        settle();
        const { snap, config } = adopt(id, actor);
        declined.delete(id);
        adopted.delete(id);
        byHand.add(id);
        said.delete(id);
        log(`camera ${id}: added by hand, gets its worker (${describe(config)})`);
        return snap;
      },
      remove(id, actor) {
        const discovered = tree.child(id)?.parent === DISCOVERED;
        tree.removeChild(id, actor);
        // Its worker holds its runtime until it has stopped; /cameras and the poll forget it now.
        if (discovered) declinedByHand(id, 'by hand');
      },
    },
  };
}

/** What a discovered camera gets, for its log line (no source, so no URL or credential). */
function describe(config: CameraConfig): string {
  return `${config.fps} fps, ${config.width}x${config.height}${config.detect ? `, detect ${config.detect.width}x${config.detect.height}` : ''}`;
}
