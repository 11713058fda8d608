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
 */
import { deadline } from '../../common/src/index.ts';
import type { InprocWorker, Tree } from 'edgevisor';
import { parseCameras, type CameraConfig } from './config.ts';
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
}

export function createDiscoveredPoller(tree: Tree, cameras: Map<string, CameraRuntime>, opts: DiscoveredOptions): DiscoveredPoller {
  const everyMs = opts.everyMs ?? 5_000;
  const base = opts.onvifUrl.replace(/\/+$/, '');
  const stopping = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let lastError = '';
  /** Devices a configured camera already streams (`onvif: { device }`): no second worker for them. */
  const configuredDevices = () => new Set([...cameras.values()].flatMap((c) => (c.config.source.kind === 'onvif' && c.config.source.device ? [c.config.source.device] : [])));

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
      if (cameras.has(id) || taken.has(id) || tree.child(id)) continue;
      let config: CameraConfig;
      try {
        config = discoveredConfig(id, base);
      } catch (err) {
        opts.log?.(`camera: discovered camera "${id.slice(0, 63)}" not adopted: ${(err as Error).message}`);
        continue;
      }
      cameras.set(id, new CameraRuntime(config));
      try {
        tree.addChild(DISCOVERED, { id }, { role: 'technician', via: 'discovery' });
        added.push(id);
        opts.log?.(`camera: discovered camera ${id} gets its worker`);
      } catch (err) {
        cameras.delete(id);
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
  };
}
