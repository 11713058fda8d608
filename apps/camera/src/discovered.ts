/**
 * Cameras the onvif service knows (found by WS-Discovery, or added there by address) get a worker
 * in the running controller, without a restart: the controller's tree has a simple_one_for_one
 * supervisor `discovered` whose template runs a camera worker, and this poller adds one child per
 * new camera (`tree.addChild('discovered', { id })`, the camera id as the child id). The camera's
 * source is `onvif: { device: <id> }`: its RTSP URI comes from the service like any configured
 * ONVIF camera's. A camera the service forgets keeps its worker (a camera that dropped off the
 * network comes back; its worker reconnects meanwhile, as a configured camera's does).
 *
 * One GET /cameras per period, bounded by a deadline, never overlapping; a service that is down
 * costs one failed poll per period and nothing else.
 *
 * A technician can also add and delete these workers through the supervisor (`edgevisor add
 * camera/discovered --id <device>`, `edgevisor delete camera/<id>`, forwarded to this app's
 * inner-tree routes): `children` registers the camera before its worker is added, exactly as a
 * poll does, and forgets it when its worker is deleted. A camera deleted by hand is not adopted
 * again by the poll (until it is added by hand, or the controller restarts).
 */
import { deadline } from '../../common/src/index.ts';
import { EdgevisorError, codes } from 'edgevisor';
import type { Actor, ChildSnapshot, InnerRoutesOptions, InprocWorker, Tree } from 'edgevisor';
import { cameraId, parseCameras, type CameraConfig } from './config.ts';
import { CameraRuntime } from './camera-worker.ts';

/** The simple_one_for_one supervisor of the discovered cameras, in the controller's tree. */
export const DISCOVERED = 'discovered';
const POLL_TIMEOUT_MS = 3_000;

export interface DiscoveredOptions {
  /** The onvif service (ONVIF_URL). */
  onvifUrl: string;
  /** Polling period of its camera list (default 5 s). */
  everyMs?: number;
  log?: (line: string) => void;
}

/** The config a discovered camera gets: the defaults of a configured `onvif: { device }` camera. */
export function discoveredConfig(id: string, onvifUrl: string): CameraConfig {
  return parseCameras({ cameras: [{ id, source: { onvif: { device: id } } }] }, { onvifUrl })[0]!;
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

export interface DiscoveredPoller {
  /** One poll now (tests); resolves with the ids added. */
  poll(): Promise<string[]>;
  start(): void;
  stop(): void;
  /** Add and delete by a technician (registerInnerTreeRoutes' `children`): see the top of this file. */
  children: Required<NonNullable<InnerRoutesOptions['children']>>;
}

export function createDiscoveredPoller(tree: Tree, cameras: Map<string, CameraRuntime>, opts: DiscoveredOptions): DiscoveredPoller {
  const everyMs = opts.everyMs ?? 5_000;
  const base = opts.onvifUrl.replace(/\/+$/, '');
  const stopping = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let lastError = '';
  /** Devices a configured camera already streams (`onvif: { device }`): no second worker for them. */
  const configuredDevices = () => new Set([...cameras.values()].flatMap((c) => (c.config.source.kind === 'onvif' && c.config.source.device ? [c.config.source.device] : [])));
  /** Deleted by a technician: the poll leaves them alone. */
  const declined = new Set<string>();
  /** Registers the camera (so its worker finds it), then adds the worker; forgets the camera if the tree refuses. */
  const adopt = (id: string, actor: Actor): ChildSnapshot => {
    cameras.set(id, new CameraRuntime(discoveredConfig(id, base)));
    try {
      return tree.addChild(DISCOVERED, { id }, actor);
    } catch (err) {
      cameras.delete(id);
      throw err;
    }
  };

  const poll = async (): Promise<string[]> => {
    const dl = deadline(POLL_TIMEOUT_MS, stopping.signal);
    let ids: string[];
    try {
      const res = await fetch(`${base}/cameras`, { signal: dl.signal });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const body = (await res.json()) as { cameras?: { id?: unknown }[] };
      ids = (body.cameras ?? []).map((c) => c.id).filter((id): id is string => typeof id === 'string');
    } catch (err) {
      const text = `camera: onvif service ${dl.expired() ? `did not answer within ${POLL_TIMEOUT_MS} ms` : `unreachable: ${(err as Error).message}`}`;
      if (text !== lastError && !stopping.signal.aborted) opts.log?.(text);
      lastError = text;
      return [];
    } finally {
      dl.clear();
    }
    lastError = '';
    const added: string[] = [];
    const taken = configuredDevices();
    for (const id of ids) {
      if (declined.has(id) || cameras.has(id) || taken.has(id) || tree.child(id)) continue;
      if (!cameraId.pattern.test(id)) {
        opts.log?.(`camera: discovered camera "${id.slice(0, 63)}" not adopted: its id is not ${cameraId.expected}`);
        continue;
      }
      try {
        adopt(id, { role: 'technician', via: 'discovery' });
        added.push(id);
        opts.log?.(`camera: discovered camera ${id} gets its worker`);
      } catch (err) {
        opts.log?.(`camera: discovered camera "${id}" not adopted: ${(err as Error).message}`);
      }
    }
    return added;
  };

  const tick = () => {
    timer = undefined;
    void poll().finally(() => {
      if (!stopping.signal.aborted) timer = setTimeout(tick, everyMs);
    });
  };
  return {
    poll,
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
        if (extra) throw new EdgevisorError(codes.SPEC_INVALID, `child.${extra}: unknown field; a discovered camera's worker takes only an id (its settings are every discovered camera's)`);
        if (cameras.has(id) || tree.child(id)) throw new EdgevisorError(codes.CHILD_EXISTS, `the camera controller already has a camera "${id}"`);
        if (configuredDevices().has(id)) throw new EdgevisorError(codes.STATE_CONFLICT, `a configured camera streams ONVIF device "${id}" already`);
        const snap = adopt(id, actor);
        declined.delete(id);
        return snap;
      },
      remove(id, actor) {
        const discovered = tree.child(id)?.parent === DISCOVERED;
        tree.removeChild(id, actor);
        if (!discovered) return;
        declined.add(id);
        // Its worker holds its runtime until it has stopped; /cameras and the poll forget it now.
        cameras.delete(id);
      },
    },
  };
}
