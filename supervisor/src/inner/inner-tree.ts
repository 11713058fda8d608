/**
 * One tree across the box: a child whose app supervises work of its own (the camera controller's
 * per-camera workers) publishes that inner tree, and the supervisor merges it under the child.
 *
 * The contract an app serves on its own port (inner/routes.ts implements it for any app that
 * runs this library's runtime):
 * - `GET /v1/tree` a TreeSnapshot (runtime/types.ts) plus `instance` (an id per app start) and
 *   `lastSeq` (its last event's seq; optional);
 * - `GET /v1/events?since=SEQ&limit=N` `{ events, lastSeq, instance }`, its tree's events after SEQ;
 * - `POST /v1/children/:id/restart|stop|start` 202 / 404 EDGEVISOR_ERR_UNKNOWN_CHILD / 409
 *   EDGEVISOR_ERR_STATE_CONFLICT;
 * - `POST /v1/children` `{parent, child}` (parent an id of the app's tree) 201 `{added, parent,
 *   child}` and `DELETE /v1/children/:id` 202 `{accepted, action: "delete", child}`, with the
 *   supervisor API's codes (api/children.ts): 400 BAD_REQUEST / SPEC_INVALID naming the field,
 *   404 UNKNOWN_CHILD, 409 CHILD_EXISTS / STATE_CONFLICT (a child of the app's tree file).
 * Every POST/DELETE the supervisor sends carries `x-edgevisor-via` and `x-edgevisor-forwarded-by:
 * supervisor` (inner/forward.ts); the supervisor records the `manual` event with the role it
 * authenticated once the app accepted, and skips the app's echo of it.
 *
 * The supervisor polls it every `every` while the child is up, each request bounded by `timeout`,
 * on its own timer: a slow or dead app delays nothing else and never blocks a snapshot, which is
 * served from the last answer. Inner nodes get ids `<child>/<innerId>`, `inner: true`, and
 * `stale: true` once no good answer came for 3 periods (or the child is down). Their events are
 * replayed from the app's event stream into the supervisor's log (child `<child>/<innerId>`), so
 * restarts between two polls are not lost; an app without /v1/events gets events derived from
 * snapshot diffs instead (state changes and restart counts only).
 *
 * Why our own loop and not a library: it is one or two GETs per period with a timeout over the
 * probes' keep-alive socket, and its merging rules (ids, staleness, replay by app instance) are
 * this contract's, not a client's.
 */
import { z } from 'zod';
import { childStates, type ChildState } from '../core/lifecycle.ts';
import type { EventDraft, EventType, TreeEvent } from '../core/events.ts';
import { EdgevisorError, codes } from '../errors.ts';
import type { InnerTreeSpec } from '../spec/types.ts';
import type { Actor, ChildSnapshot, InnerTreeStatus, ProbeStatus } from '../runtime/types.ts';
import { dropConnection, httpGet, type ConnectionSlot } from '../probes/http-get.ts';
import { forwardToApp } from './forward.ts';

/** Answers larger than this are refused: a tree of a few hundred nodes is far below it. */
const MAX_BODY = 2 * 1024 * 1024;
const EVENTS_PAGE = 500;
const text = (max: number) => z.string().transform((s) => (s.length > max ? `${s.slice(0, max)}...` : s));
const state = z.enum(childStates);
/** Inner ids become `<child>/<id>` path segments: no "/", shell-safe. */
const innerId = z.string().regex(/^[A-Za-z0-9_.:-]{1,100}$/);

const probeSchema = z.object({
  name: text(100),
  kind: text(40),
  ok: z.boolean().nullable(),
  consecutiveFailures: z.number().int().min(0),
  lastError: text(500).optional(),
  latencyMs: z.number().optional(),
  lastRunAt: z.number().optional(),
});
const nodeSchema = z.object({
  id: innerId,
  type: z.enum(['worker', 'supervisor']),
  parent: innerId.nullable(),
  state,
  since: z.number(),
  startedAt: z.number().nullable(),
  restarts: z.number().int().min(0),
  lastReason: text(500).nullable(),
  lastRestartReason: text(500).nullable().optional(),
  lastRestartAt: z.number().nullable().optional(),
  manuallyStopped: z.boolean().optional(),
  /** Added at run time: deletable (DELETE /v1/children/:id). */
  dynamic: z.boolean().optional(),
  backend: z.enum(['process', 'inproc', 'docker']).optional(),
  probes: z.array(probeSchema).max(50).optional(),
  info: z.record(z.string(), z.unknown()).optional(),
  /** A typed worker's own state (spec/worker-lifecycle.ts), as a declared state name. */
  workerState: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,39}$/).optional(),
  workerStateSince: z.number().optional(),
  children: z.array(innerId).optional(),
});
export const innerSnapshotSchema = z.object({
  name: innerId,
  state,
  nodes: z.array(nodeSchema).min(1).max(1000),
  instance: text(100).optional(),
  /** The app's last event seq: lets the poller skip /v1/events when nothing happened. */
  lastSeq: z.number().int().min(0).optional(),
});
export type InnerSnapshot = z.output<typeof innerSnapshotSchema>;
const eventTypes = ['transition', 'probe', 'restart', 'exit', 'escalation', 'alarm', 'manual', 'worker_state'] as const satisfies readonly EventType[];
const eventSchema = z.object({
  seq: z.number().int().min(1),
  ts: z.number(),
  type: z.enum(eventTypes),
  child: innerId,
  from: state.optional(),
  to: state.optional(),
  reason: text(1000),
  data: z.record(z.string(), z.unknown()).optional(),
});
const eventsPageSchema = z.object({ events: z.array(eventSchema).max(5000), lastSeq: z.number().int().min(0), instance: text(100).optional() });

/** Only primitives of an inner node's `info` pass through (workerState, run...): nothing structured from another process. */
function primitiveInfo(info: Record<string, unknown> | undefined): Record<string, string | number | boolean> | undefined {
  if (!info) return undefined;
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(info)) {
    if (typeof v === 'number' || typeof v === 'boolean' || (typeof v === 'string' && v.length <= 200)) out[k] = v;
  }
  return out;
}

/** The app's root: the node without a parent (its tree's name for a snapshot without one). */
const rootOf = (snap: InnerSnapshot) => snap.nodes.find((n) => n.parent === null)?.id ?? snap.name;

/**
 * One of the app's nodes as a node of our tree: `<child>/<id>`, parent the child (for the app's
 * top level, under `root`) or `<child>/<parent>`, `inner: true`. Pure.
 */
export function mergeInnerNode(childId: string, root: string, n: InnerSnapshot['nodes'][number], opts: { stale: boolean; fetchedAt: number }): ChildSnapshot {
  const full = (id: string) => `${childId}/${id}`;
  const node: ChildSnapshot = {
    id: full(n.id),
    type: n.type,
    parent: n.parent === root || n.parent === null ? childId : full(n.parent),
    state: n.state,
    since: n.since,
    startedAt: n.startedAt,
    restarts: n.restarts,
    lastReason: n.lastReason,
    lastRestartReason: n.lastRestartReason ?? null,
    lastRestartAt: n.lastRestartAt ?? null,
    manuallyStopped: n.manuallyStopped ?? false,
    probes: (n.probes ?? []) as ProbeStatus[],
    inner: true,
    stale: opts.stale,
    fetchedAt: opts.fetchedAt,
  };
  if (n.dynamic) node.dynamic = true;
  if (n.backend) node.backend = n.backend;
  if (n.workerState) node.workerState = n.workerState;
  if (n.workerStateSince !== undefined) node.workerStateSince = n.workerStateSince;
  const info = primitiveInfo(n.info);
  if (info) node.info = info;
  if (n.children) node.children = n.children.map(full);
  return node;
}

/** The app's nodes as nodes of our tree (mergeInnerNode), without the app's root. Pure. */
export function mergeInnerNodes(childId: string, snap: InnerSnapshot, opts: { stale: boolean; fetchedAt: number }): ChildSnapshot[] {
  const root = rootOf(snap);
  return snap.nodes.filter((n) => n.parent !== null).map((n) => mergeInnerNode(childId, root, n, opts));
}

/** The top-level inner ids (children of the app's root), as the outer child's `children`. */
export function topLevelInnerIds(childId: string, snap: InnerSnapshot): string[] {
  const root = rootOf(snap);
  return snap.nodes.filter((n) => n.parent === root).map((n) => `${childId}/${n.id}`);
}

/**
 * For an app without /v1/events: events from the difference of two snapshots. Pure. A restart
 * (the count went up) and a state change per node; what happened in between is not known.
 */
export function diffInnerSnapshots(childId: string, prev: InnerSnapshot, next: InnerSnapshot): EventDraft[] {
  const before = new Map(prev.nodes.map((n) => [n.id, n]));
  const out: EventDraft[] = [];
  for (const n of next.nodes) {
    const p = before.get(n.id);
    if (!p || n.parent === null) continue;
    const child = `${childId}/${n.id}`;
    if (n.restarts > p.restarts) {
      const words = n.lastRestartReason ?? 'restarted';
      out.push({ type: 'restart', child, reason: words, data: { inner: true, derived: true, words, count: n.restarts - p.restarts } });
    }
    if (n.state !== p.state) out.push({ type: 'transition', child, from: p.state, to: n.state, reason: n.lastReason ?? 'changed', data: { inner: true, derived: true } });
  }
  return out;
}

/** Maps one of the app's events into our log, or null for those we do not record. Pure. */
export function mapInnerEvent(childId: string, innerRoot: string, e: z.output<typeof eventSchema>): EventDraft | null {
  const data = { ...e.data, inner: true, innerSeq: e.seq };
  // The app's root is this child itself as far as we are concerned: only its alarm matters.
  if (e.child === innerRoot) return e.type === 'alarm' ? { type: 'alarm', child: childId, ts: e.ts, reason: `${childId}'s inner tree: ${e.reason}`, data } : null;
  // A manual action we forwarded is already in our log, with the role we authenticated.
  if (e.type === 'manual' && e.data?.['forwardedBy'] === 'supervisor') return null;
  const draft: EventDraft = { type: e.type, child: `${childId}/${e.child}`, ts: e.ts, reason: e.reason, data };
  if (e.from) draft.from = e.from as ChildState;
  if (e.to) draft.to = e.to as ChildState;
  return draft;
}

export interface InnerTreeDeps {
  now(): number;
  emit(draft: EventDraft): TreeEvent;
  /** The outer child's state and the start of its current run (events from before it are not replayed). */
  outer(): { state: ChildState; startedAt: number | null };
  onInternalError(err: unknown): void;
}

/** What a technician can ask of an inner node; `delete` only of one added at run time. */
export type InnerAction = 'restart' | 'stop' | 'start' | 'delete';

/** The 201 answer of the app to an add, as the app sends it. */
const addedSchema = z.object({ added: innerId, parent: innerId, child: nodeSchema });

/** The merged view of one child's inner tree, kept fresh by polling. */
export interface InnerTree {
  readonly childId: string;
  start(): void;
  stop(): void;
  status(): InnerTreeStatus;
  /** The inner nodes as of the last good answer (stale-marked), [] before the first. */
  nodes(): ChildSnapshot[];
  topLevelIds(): string[];
  /** Forwards a manual action to the app; throws UNKNOWN_CHILD / STATE_CONFLICT / INNER_UNAVAILABLE. */
  action(fullId: string, action: InnerAction, actor: Actor): Promise<void>;
  /**
   * Forwards an add under the inner supervisor `parentFullId` (`camera/discovered`); resolves
   * with the new node as ours (`camera/<id>`). Throws the app's refusal (BAD_REQUEST,
   * SPEC_INVALID, UNKNOWN_CHILD, CHILD_EXISTS, STATE_CONFLICT) or INNER_UNAVAILABLE.
   */
  add(parentFullId: string, child: unknown, actor: Actor): Promise<ChildSnapshot>;
}

class FetchError extends Error {}

/**
 * One GET over the probes' bare keep-alive socket (probes/http-get.ts), kept in `slot` between
 * polls: measured here, fetch cost ~1.7 ms of supervisor CPU per request, this a fraction of it,
 * and a frozen app stalls only its own poll.
 */
async function getJson(url: string, timeoutMs: number, slot: ConnectionSlot): Promise<{ status: number; body: unknown }> {
  const signal = AbortSignal.timeout(timeoutMs);
  let res: Awaited<ReturnType<typeof httpGet>>;
  try {
    res = await httpGet(url, { headers: { accept: 'application/json' }, signal, maxBytes: MAX_BODY, slot });
  } catch (err) {
    dropConnection(slot);
    if (signal.aborted) throw new FetchError(`no answer within ${timeoutMs}ms`);
    throw new FetchError(err instanceof Error ? err.message : String(err));
  }
  if (res.truncated) throw new FetchError(`answer larger than ${MAX_BODY} bytes`);
  let body: unknown = null;
  try {
    body = res.body ? JSON.parse(res.body) : null;
  } catch {
    if (res.status === 200) throw new FetchError('answer is not JSON');
  }
  return { status: res.status, body };
}

export function createInnerTree(childId: string, spec: InnerTreeSpec, deps: InnerTreeDeps): InnerTree {
  let snap: InnerSnapshot | null = null;
  let fetchedAt: number | null = null;
  let error: string | null = null;
  let timer: NodeJS.Timeout | null = null;
  let inFlight = false;
  let running = false;
  /** Event replay position: the app instance we follow and the last of its seqs we recorded. */
  let instance: string | undefined;
  let cursor = 0;
  let eventsSupported = true;
  const slot: ConnectionSlot = {};
  const isUp = () => ['starting', 'running', 'unhealthy'].includes(deps.outer().state);

  const stale = () => !isUp() || error !== null || fetchedAt === null || deps.now() - fetchedAt > 3 * spec.everyMs;

  const replayEvents = async (root: string, appInstance: string | undefined) => {
    if (appInstance !== instance) {
      // A new app run (or our first look at it): its seqs start over.
      instance = appInstance;
      cursor = 0;
    }
    const from = deps.outer().startedAt ?? 0;
    for (let page = 0; page < 4; page++) {
      const r = await getJson(`${spec.url}/v1/events?since=${cursor}&limit=${EVENTS_PAGE}`, spec.timeoutMs, slot);
      if (r.status === 404) {
        eventsSupported = false;
        return;
      }
      const parsed = eventsPageSchema.safeParse(r.body);
      if (r.status !== 200 || !parsed.success) throw new FetchError(`GET /v1/events: ${r.status === 200 ? 'not an events page' : `status ${r.status}`}`);
      if (parsed.data.instance !== undefined && parsed.data.instance !== instance) return; // restarted in between: next poll
      if (parsed.data.lastSeq < cursor) cursor = 0;
      for (const e of parsed.data.events) {
        if (e.seq <= cursor) continue;
        cursor = e.seq;
        // Events from before this run of the child were recorded by whoever supervised it then.
        if (e.ts < from) continue;
        const draft = mapInnerEvent(childId, root, e);
        if (draft) deps.emit(draft);
      }
      if (parsed.data.events.length < EVENTS_PAGE) return;
    }
  };

  const poll = async () => {
    const r = await getJson(`${spec.url}/v1/tree`, spec.timeoutMs, slot);
    const parsed = innerSnapshotSchema.safeParse(r.body);
    if (r.status !== 200 || !parsed.success) throw new FetchError(`GET /v1/tree: ${r.status === 200 ? 'not a tree snapshot' : `status ${r.status}`}`);
    const next = parsed.data;
    const root = rootOf(next);
    // The app's tree says its last event seq: nothing new since our cursor, no second request.
    const nothingNew = next.lastSeq !== undefined && next.instance === instance && next.lastSeq <= cursor;
    if (eventsSupported && !nothingNew) await replayEvents(root, next.instance);
    if (!eventsSupported && snap && (next.instance === undefined || next.instance === snap.instance)) {
      for (const d of diffInnerSnapshots(childId, snap, next)) deps.emit(d);
    }
    snap = next;
    fetchedAt = deps.now();
    error = null;
  };

  const tick = () => {
    timer = null;
    if (!running) return;
    schedule();
    if (inFlight || !isUp()) return;
    inFlight = true;
    poll()
      .catch((err: unknown) => {
        error = err instanceof FetchError ? err.message : `unexpected: ${(err as Error).message}`;
        if (!(err instanceof FetchError)) deps.onInternalError(err);
      })
      .finally(() => (inFlight = false));
  };
  const schedule = () => {
    if (!running || timer) return;
    timer = setTimeout(tick, spec.everyMs);
    timer.unref?.();
  };

  /** After an add or delete the app took: poll now rather than at the next period, so the merged tree shows it at once. */
  const pollNow = () => {
    if (!running) return;
    if (timer) clearTimeout(timer);
    tick();
  };
  const refuseWhenDown = (fullId: string) => {
    if (!isUp()) throw new EdgevisorError(codes.STATE_CONFLICT, `${fullId}: ${childId} is ${deps.outer().state}; start ${childId} first`);
  };
  /** The `manual` event of a forwarded action, with the role we authenticated (the app's echo is skipped). */
  const recordManual = (fullId: string, action: string, actor: Actor, extra: Record<string, unknown> = {}, detail = '') =>
    deps.emit({
      type: 'manual',
      child: fullId,
      reason: `${action} requested by ${actor.role}${actor.via ? ` via ${actor.via}` : ''}${detail} (passed to ${childId})`,
      data: { action, role: actor.role, via: actor.via, ...extra, inner: true, forwardedTo: childId },
    });

  return {
    childId,
    start() {
      if (running) return;
      running = true;
      schedule();
    },
    stop() {
      running = false;
      if (timer) clearTimeout(timer);
      timer = null;
      dropConnection(slot);
    },
    status: () => ({ state: snap?.state ?? null, fetchedAt, stale: stale(), error }),
    nodes: () => (snap && fetchedAt !== null ? mergeInnerNodes(childId, snap, { stale: stale(), fetchedAt }) : []),
    topLevelIds: () => (snap ? topLevelInnerIds(childId, snap) : []),
    async action(fullId, action, actor) {
      const id = fullId.slice(childId.length + 1);
      refuseWhenDown(fullId);
      const del = action === 'delete';
      await forwardToApp(spec.url, {
        method: del ? 'DELETE' : 'POST',
        path: `/v1/children/${encodeURIComponent(id)}${del ? '' : `/${action}`}`,
        route: del ? 'DELETE /v1/children/:id' : `POST /v1/children/:id/${action}`,
        actor, expect: 202, childId, fullId, what: action,
      }, spec.timeoutMs);
      recordManual(fullId, action, actor);
      if (del) pollNow();
    },
    async add(parentFullId, child, actor) {
      refuseWhenDown(parentFullId);
      const body = await forwardToApp(spec.url, {
        method: 'POST', path: '/v1/children', route: 'POST /v1/children',
        body: { parent: parentFullId.slice(childId.length + 1), ...(child !== undefined ? { child } : {}) },
        actor, expect: 201, childId, fullId: parentFullId, what: 'add',
      }, spec.timeoutMs);
      // Taken by the app: recorded even if its answer turns out unreadable.
      const parsed = addedSchema.safeParse(body);
      const added = parsed.success ? `${childId}/${parsed.data.added}` : undefined;
      recordManual(parentFullId, 'add', actor, added ? { added, parent: parentFullId } : { parent: parentFullId }, added ? `: ${added}` : '');
      pollNow();
      if (!parsed.success) throw new EdgevisorError(codes.INNER_UNAVAILABLE, `${childId} took the add under ${parentFullId} but its answer is not a child snapshot; see GET /v1/tree`);
      const root = snap ? rootOf(snap) : null;
      return mergeInnerNode(childId, root ?? '', parsed.data.child, { stale: false, fetchedAt: deps.now() });
    },
  };
}
