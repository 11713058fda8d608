/**
 * Inference follows the camera controller's camera list while it runs (when CAMERAS is not set):
 * GET /cameras every CAMERA_LIST_INTERVAL_MS, and one frame loop per listed camera. The controller
 * adds and removes cameras at run time (discovered cameras, a technician's add and delete), so a
 * camera that appears gets its loop, and one that is gone stops its loop and loses its state and
 * metric series (a frozen `inference_last_frame_timestamp_seconds` would fail the staleness probe
 * and get inference restarted).
 *
 * The decisions are the pure `planCameraLoops(current, listing)`; `createCameraFollower` reads
 * the list and executes the steps. What an answer may change:
 * - a request that fails (controller down or restarting, an HTTP error, a timeout, a body that is
 *   not a camera list) changes nothing: the loops reconnect by themselves (camera-loop.ts);
 * - an answer with `complete: false` (a controller that restarted and has not yet had the onvif
 *   service's list, so its discovered cameras are missing for now: apps/camera/src/app.ts) starts
 *   loops, stops none;
 * - a complete answer is the truth, an empty one included: every loop not in it stops.
 *
 * INVARIANTS: one list request at a time (the loop awaits each, then sleeps the period); at most
 * one frame loop per camera: a camera whose loop is stopping is not started again until that loop
 * has ended and its state was forgotten (the next answer after that starts it, fresh). Stopping
 * never blocks the follower: a loop stuck in a frame (the hang failpoint) stays `stopping`.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** A loop that runs, or was told to stop and has not ended yet. */
export type LoopState = 'running' | 'stopping';

/** One answer of GET /cameras. `complete` false: cameras may be missing from it for now. */
export interface CameraListing { ids: readonly string[]; complete: boolean }

export type CameraStep = { op: 'start'; camera: string } | { op: 'stop'; camera: string };

/** What one answer means for the loops. Pure: no I/O, no clock. */
export function planCameraLoops(current: ReadonlyMap<string, LoopState>, listing: CameraListing): CameraStep[] {
  const listed = new Set(listing.ids);
  const steps: CameraStep[] = [];
  for (const camera of listed) if (!current.has(camera)) steps.push({ op: 'start', camera });
  if (listing.complete) {
    for (const [camera, state] of current) if (state === 'running' && !listed.has(camera)) steps.push({ op: 'stop', camera });
  }
  return steps;
}

export interface CameraFollowerOptions {
  /** One read of the list; throws when there is no answer. Must honour `signal` and its own timeout. */
  list(signal: AbortSignal): Promise<CameraListing>;
  everyMs: number;
  /** Runs one camera's frame loop until `signal` aborts. */
  run(camera: string, signal: AbortSignal): Promise<void>;
  /** After a stopped loop has ended: drop the camera's state and metric series. */
  forget(camera: string): Promise<void> | void;
  /** The cameras with a running loop, after the first complete answer and each complete one since which they changed. */
  onCameras?(cameras: readonly string[]): void;
  /** Each read's outcome and the number of running loops, for metrics. */
  onList?(outcome: 'complete' | 'incomplete' | 'failed', loops: number): void;
  log(line: string): void;
  /** The app's: aborting it stops the follower and every loop. */
  signal: AbortSignal;
}

export interface CameraFollower {
  /** Cameras and their loop's state (a copy). */
  loops(): Map<string, LoopState>;
  /** Settles when the follower and every loop have ended (after `signal` aborted). */
  settled(): Promise<unknown>;
}

interface Loop { state: LoopState; abort: AbortController; done: Promise<void> }

/** Before the controller first answers, reads are retried after 250 ms, doubling up to the period. */
const FIRST_RETRY_MS = 250;

export function createCameraFollower(o: CameraFollowerOptions): CameraFollower {
  const loops = new Map<string, Loop>();
  /** Loops and forgets not settled yet (for `settled`; each leaves the set when it settles). */
  const pending = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };
  let lastError = '';
  let incompleteSaid = false;
  /** The running cameras changed since `onCameras` was last called (or it never was). */
  let camerasChanged = true;

  const executors: { [K in CameraStep['op']]: (step: Extract<CameraStep, { op: K }>) => void } = {
    start({ camera }) {
      // Aborted by the app's signal through the one listener below (not one per loop: with more
      // than ten cameras, a listener each would trip Node's MaxListeners warning).
      const abort = new AbortController();
      o.log(`inference: camera ${camera}: listed by the camera controller: its frame loop starts`);
      const done = o.run(camera, abort.signal).catch((err: unknown) => {
        o.log(`inference: camera ${camera}: its frame loop ended: ${(err as Error).message}`);
      });
      loops.set(camera, { state: 'running', abort, done });
      track(done);
    },
    stop({ camera }) {
      const loop = loops.get(camera)!;
      loop.state = 'stopping';
      o.log(`inference: camera ${camera}: no longer listed by the camera controller: its frame loop stops`);
      loop.abort.abort();
      const forgotten = loop.done.then(async () => {
        if (o.signal.aborted) return;
        try {
          await o.forget(camera);
          o.log(`inference: camera ${camera}: frame loop stopped, its state and metric series removed`);
        } catch (err) {
          o.log(`inference: camera ${camera}: frame loop stopped, but removing its state failed: ${(err as Error).message}`);
        } finally {
          loops.delete(camera);
        }
      });
      track(forgotten);
    },
  };
  o.signal.addEventListener('abort', () => { for (const l of loops.values()) l.abort.abort(); }, { once: true });
  const execute = (step: CameraStep) => (executors[step.op] as (s: CameraStep) => void)(step);
  const states = () => new Map([...loops].map(([camera, l]) => [camera, l.state] as const));
  const running = () => [...loops].filter(([, l]) => l.state === 'running').map(([camera]) => camera).sort();

  const apply = (listing: CameraListing) => {
    if (lastError) o.log('inference: the camera controller answers GET /cameras again');
    lastError = '';
    if (!listing.complete && !incompleteSaid) o.log('inference: the camera controller\'s list is not complete yet (it has not had a whole list from the onvif service since it started): new cameras get a loop, none is stopped');
    incompleteSaid = !listing.complete;
    const steps = planCameraLoops(states(), listing);
    for (const step of steps) execute(step);
    if (steps.length) camerasChanged = true;
    // Zones are checked against a complete list only (an incomplete one would warn for nothing).
    if (listing.complete && camerasChanged) {
      camerasChanged = false;
      o.onCameras?.(running());
    }
    o.onList?.(listing.complete ? 'complete' : 'incomplete', running().length);
  };

  const follow = (async () => {
    // Until the first answer (inference usually starts with the controller), sooner than the period.
    let retryMs = FIRST_RETRY_MS;
    let answered = false;
    while (!o.signal.aborted) {
      let listing: CameraListing | undefined;
      try {
        listing = await o.list(o.signal);
      } catch (err) {
        if (o.signal.aborted) break;
        const text = `inference: camera list unavailable: ${(err as Error).message}; frame loops kept as they are`;
        if (text !== lastError) o.log(text);
        lastError = text;
        o.onList?.('failed', running().length);
      }
      if (listing && !o.signal.aborted) {
        answered = true;
        try {
          apply(listing);
        } catch (err) {
          // A bug here must not end the following (the loops would never change again).
          o.log(`inference: applying the camera list failed: ${(err as Error).message}`);
        }
      }
      const waitMs = answered ? o.everyMs : Math.min(retryMs, o.everyMs);
      retryMs *= 2;
      try {
        await sleep(waitMs, undefined, { signal: o.signal });
      } catch {
        break;
      }
    }
  })();

  return {
    loops: states,
    settled: () => Promise.allSettled([follow, ...pending]),
  };
}
