import { EdgevisorError, codes } from '../errors.ts';
import type { EventDraft, TreeEvent } from '../core/events.ts';
import { restartFacts, restartReasonWords } from '../core/reason-words.ts';
import type { BackendRegistry } from '../backends/types.ts';
import type { ProbeCheck, TreeSpec } from '../spec/types.ts';
import type { ProbeResult, ProbeTarget } from '../probes/types.ts';
import { runProbe as defaultRunProbe } from '../probes/index.ts';
import { describeManualRestart, planManualRestart } from '../core/manual-restart.ts';
import { OVERRIDE_FIELDS, childInvalid, parseChildObject, specFromTemplate, templateOverridesText, type TemplateOverrides } from '../spec/load.ts';
import type { ChildSpec } from '../spec/types.ts';
import { SerialQueue } from './serial-queue.ts';
import { systemClock, type Clock } from './clock.ts';
import type { NodeHost, TreeNode } from './node.ts';
import { SupervisorNode } from './supervisor-node.ts';
import { WorkerNode } from './worker-node.ts';
import { createInnerTree, type InnerTree } from '../inner/inner-tree.ts';
import type { Actor, ChildSnapshot, EventSink, Tree, TreeSnapshot } from './types.ts';

/** What a tree needs from its host: the backends, and optionally an event sink, a base directory, a clock and a probe runner. */
export interface TreeDeps {
  /** Units per backend kind (process/inproc/thread from backends/index.ts, docker from backends/docker). */
  backends: BackendRegistry;
  /** Persists and numbers events (the SQLite store). Without one, events are numbered in memory. */
  sink?: EventSink;
  /** Directory relative paths resolve against (default: the tree file's directory, else cwd). */
  baseDir?: string;
  /** Time and timers (runtime/clock.ts); default the system clock. Tests pass a fake one and drive time. */
  clock?: Clock;
  /** Only the time (kept for callers that predate `clock`); `clock` wins when both are given. */
  now?: () => number;
  runProbe?: (check: ProbeCheck, target: ProbeTarget, timeoutMs: number, signal: AbortSignal) => Promise<ProbeResult>;
  /** Bugs surfaced from background tasks (illegal transitions). Default: print them. */
  onInternalError?: (err: unknown) => void;
}

/** A restart decided by the supervisor, or a technician's manual restart. */
function isRestartDecision(e: Pick<TreeEvent, 'type' | 'data'>): boolean {
  return e.type === 'restart' || (e.type === 'manual' && e.data?.['action'] === 'restart');
}

/** Adds `data.words` (a technician's words for why, core/reason-words.ts) to restart decisions. */
function withRestartWords(draft: EventDraft): EventDraft {
  if (!isRestartDecision(draft) || typeof draft.data?.['words'] === 'string') return draft;
  const facts = restartFacts(draft.data);
  if (draft.type === 'manual') facts.cause = 'manual';
  return { ...draft, data: { ...draft.data, words: restartReasonWords(facts, draft.reason) } };
}

/** The spec of a child added at run time: from the parent's template (simple_one_for_one) or as written. */
function dynamicChildSpec(parent: SupervisorNode, input: unknown, opts: { allowRun: boolean; baseDir: string; taken: (id: string) => boolean }): ChildSpec {
  const template = parent.spec.template;
  if (template) {
    const accepted = templateOverridesText(template.backend.kind);
    if (input !== undefined && (input === null || typeof input !== 'object' || Array.isArray(input))) {
      throw childInvalid([`child: expected { ${accepted.split(', ').map((k) => `${k}?`).join(', ')} } (the template's overrides)`]);
    }
    const o = (input ?? {}) as TemplateOverrides & Record<string, unknown>;
    const unknown = Object.keys(o).filter((k) => !(OVERRIDE_FIELDS as readonly string[]).includes(k));
    if (unknown.length) {
      throw childInvalid([`${unknown[0]}: unknown field; ${parent.id} is simple_one_for_one: a child is its ${template.backend.kind} template plus ${accepted}`]);
    }
    return specFromTemplate(template, o, o.id ?? parent.nextTemplateId(opts.taken));
  }
  const spec = parseChildObject(input, { parentBackoff: parent.spec.backoff, baseDir: opts.baseDir, allowRun: opts.allowRun });
  const withInner = (c: ChildSpec): boolean => (c.type === 'worker' ? c.innerTree !== undefined : c.children.some(withInner));
  if (withInner(spec)) {
    throw childInvalid(['child.inner_tree: not available for a child added at run time; declare it in the tree file']);
  }
  return spec;
}

function memorySink(): EventSink {
  let seq = 0;
  return { append: (d) => ({ ...d, seq: ++seq, ts: d.ts ?? Date.now() }) };
}

/**
 * Builds a supervision tree from a loaded spec. Nothing runs until start().
 * Manual actions validate at once (throwing UNKNOWN_CHILD / STATE_CONFLICT) and then run on the
 * parent supervisor's queue, so they never interleave with a restart in progress.
 */
export function createTree(spec: TreeSpec, deps: TreeDeps): Tree {
  const listeners = new Set<(e: TreeEvent) => void>();
  const byId = new Map<string, TreeNode>();
  const sink = deps.sink ?? memorySink();
  const onInternalError = deps.onInternalError ?? ((err: unknown) => console.error('edgevisor: internal error:', err));
  const clock: Clock = deps.clock ?? (deps.now ? { ...systemClock, now: deps.now } : systemClock);
  const host: NodeHost = {
    now: () => clock.now(),
    clock,
    backends: deps.backends,
    baseDir: deps.baseDir ?? (spec.file ? spec.file.replace(/[/\\][^/\\]*$/, '') : process.cwd()),
    runProbe: deps.runProbe ?? defaultRunProbe,
    onInternalError,
    emit(draft: EventDraft): TreeEvent {
      const event = sink.append(withRestartWords({ ...draft, ts: draft.ts ?? host.now() }));
      noteRestart(event);
      for (const l of listeners) {
        try {
          l(event);
        } catch (err) {
          onInternalError(err);
        }
      }
      return event;
    },
  };
  // The node's "last restart reason" is set where the decision becomes an event, whoever made
  // it (failure handling, a sibling restart, a technician), and no later transition overwrites it.
  const noteRestart = (event: TreeEvent) => {
    const words = event.data?.['words'];
    if (typeof words !== 'string' || !isRestartDecision(event)) return;
    const node = byId.get(event.child);
    if (!node) return;
    node.lastRestartReason = words;
    node.lastRestartAt = event.ts;
  };
  const root = new SupervisorNode(spec.root, null, host);
  const rootQueue = new SerialQueue();
  const walk = (n: TreeNode) => {
    byId.set(n.id, n);
    if (n instanceof SupervisorNode) n.children.forEach(walk);
  };
  walk(root);
  // Apps that publish their own tree (inner_tree): merged under their child, polled on their own timers.
  const inner = new Map<string, InnerTree>();
  for (const n of byId.values()) {
    if (!(n instanceof WorkerNode) || !n.spec.innerTree) continue;
    const outer = n;
    inner.set(n.id, createInnerTree(n.id, n.spec.innerTree, { now: host.now, emit: host.emit, onInternalError, outer: () => ({ state: outer.state, startedAt: outer.startedAt }) }));
  }
  /** The inner tree an id like `camera/dock` belongs to. */
  const innerOf = (id: string): InnerTree | undefined => {
    const cut = id.indexOf('/');
    return cut > 0 ? inner.get(id.slice(0, cut)) : undefined;
  };
  /** The inner tree that has node `id` as of its last answer, or UNKNOWN_CHILD naming every known id. */
  const knownInner = (id: string): InnerTree => {
    const t = innerOf(id);
    if (t && t.nodes().some((x) => x.id === id)) return t;
    const known = [...byId.keys()].flatMap((k) => [k, ...(inner.get(k)?.nodes().map((x) => x.id) ?? [])]);
    throw new EdgevisorError(codes.UNKNOWN_CHILD, `no child "${id}" (known: ${known.join(', ')})`);
  };
  /** Ids of the children added at run time (addChild), and of their descendants. */
  const dynamic = new Set<string>();
  /**
   * Ids of the children being deleted (removeChild accepted, the stop not yet done), with their
   * descendants. Such a child is still in the tree (state stopping) until its queued stop ends:
   * a second delete is refused, it no longer counts toward max_children, and its id can be added
   * again only once it is gone (a conflict until then, not a CHILD_EXISTS).
   */
  const deleting = new Set<string>();
  const withInner = (s: ChildSnapshot): ChildSnapshot => {
    const t = inner.get(s.id);
    const out = t ? { ...s, children: t.topLevelIds(), innerTree: t.status() } : s;
    return dynamic.has(s.id) ? { ...out, dynamic: true } : out;
  };

  const find = (id: string): TreeNode => {
    const n = byId.get(id);
    if (!n) throw new EdgevisorError(codes.UNKNOWN_CHILD, `no child "${id}" (known: ${[...byId.keys()].join(', ')})`);
    return n;
  };
  /** find() for a manual action: a child being deleted takes none (its stop is queued, then it is gone). */
  const findActive = (id: string, action: string): TreeNode => {
    const n = find(id);
    if (deleting.has(id)) throw new EdgevisorError(codes.STATE_CONFLICT, `${id} is being deleted: it cannot be ${action}`);
    return n;
  };
  const queueOf = (n: TreeNode): SerialQueue => (n.parent instanceof SupervisorNode ? n.parent.queue : rootQueue);
  const conflict = (n: TreeNode, msg: string) => new EdgevisorError(codes.STATE_CONFLICT, `${n.id} is ${n.state}: ${msg}`);
  const parentDown = (n: TreeNode): string | null => {
    const p = n.parent;
    return p instanceof SupervisorNode && p.state !== 'running' && p.state !== 'starting' ? p.id : null;
  };
  const background = (p: Promise<unknown>) => p.catch(onInternalError);
  const manual = (n: TreeNode, action: string, actor: Actor, extra: Record<string, unknown> = {}, detail = '') =>
    host.emit({
      type: 'manual',
      child: n.id,
      reason: `${action} requested by ${actor.role}${actor.via ? ` via ${actor.via}` : ''}${detail}`,
      data: { action, role: actor.role, via: actor.via, ...(actor.forwardedBy ? { forwardedBy: actor.forwardedBy } : {}), ...extra },
    });

  let started: Promise<void> | null = null;
  let stopped: Promise<void> | null = null;

  return {
    name: spec.name,
    start() {
      for (const t of inner.values()) t.start();
      started ??= rootQueue.run(async () => {
        await root.start('tree start');
      });
      return started;
    },
    stop(opts = {}) {
      stopped ??= (async () => {
        if (opts.leaveRunning) for (const n of byId.values()) if (n instanceof WorkerNode) n.letGo('supervisor exiting');
        // Not on rootQueue: a start still in progress must be interrupted, not waited out.
        for (const t of inner.values()) t.stop();
        await root.stop('supervisor shutting down', 'stopped');
        if (started) await started.catch(() => undefined);
        await root.close();
      })();
      return stopped;
    },
    snapshot(): TreeSnapshot {
      const nodes: ChildSnapshot[] = [];
      const visit = (n: TreeNode) => {
        nodes.push(withInner(n.snapshot()));
        const t = inner.get(n.id);
        if (t) nodes.push(...t.nodes());
        if (n instanceof SupervisorNode) n.children.forEach(visit);
      };
      visit(root);
      return { name: spec.name, state: root.state, nodes };
    },
    child(id) {
      const n = byId.get(id);
      if (n) return withInner(n.snapshot());
      return innerOf(id)?.nodes().find((x) => x.id === id);
    },
    async innerAction(id, action, actor) {
      await knownInner(id).action(id, action, actor);
    },
    async innerAdd(parentId, child, actor) {
      return knownInner(parentId).add(parentId, child, actor);
    },
    stopChild(id, actor) {
      const n = findActive(id, 'stopped');
      if (n.state === 'stopped' || n.state === 'stopping') throw conflict(n, 'it is already stopped');
      manual(n, 'stop', actor);
      n.manuallyStopped = true;
      n.desiredUp = false;
      void background(queueOf(n).run(() => n.stop(`stopped by ${actor.role}`, 'stopped')));
    },
    startChild(id, actor) {
      const n = findActive(id, 'started');
      // A start during a manual stop is queued behind it (the stop runs on the same queue), not
      // refused as "already up"; a node stopping for a restart comes back by itself.
      if (n.state === 'stopping' && !n.manuallyStopped) throw conflict(n, 'it is being restarted and comes back by itself');
      if (n.state === 'running' || n.state === 'starting' || n.state === 'unhealthy') throw conflict(n, 'it is already up');
      const down = parentDown(n);
      if (down) throw conflict(n, `its supervisor ${down} is not running; start ${down} first`);
      manual(n, 'start', actor);
      n.manuallyStopped = false;
      n.desiredUp = true;
      n.dueAt = 0;
      void background(
        queueOf(n).run(async () => {
          if (n.state === 'running' || n.state === 'starting') return;
          await n.start(`started by ${actor.role}`);
        }),
      );
    },
    restartChild(id, actor, opts = {}) {
      const n = findActive(id, 'restarted');
      if (n.manuallyStopped || n.state === 'stopped' || n.state === 'gave_up') throw conflict(n, `it is not running; use start`);
      if (n.state === 'stopping') throw conflict(n, 'it is being stopped');
      const down = parentDown(n);
      if (down) throw conflict(n, `its supervisor ${down} is not running; start ${down} first`);
      // What the parent's strategy would restart on a failure of n (core/manual-restart.ts).
      const parent = n.parent instanceof SupervisorNode ? n.parent : null;
      const plan = parent ? parent.planManualRestart(n, opts.only === true) : planManualRestart(null, [], n.id, opts.only === true);
      manual(n, 'restart', actor, { restarting: plan.restarting, stopping: plan.stopping, only: plan.only, strategy: plan.strategy }, `: ${describeManualRestart(plan)}`);
      n.restarts++;
      if (parent) {
        void background(parent.restartManually(plan, actor.role));
        return plan;
      }
      void background(
        queueOf(n).run(async () => {
          await n.stop(`restart requested by ${actor.role}`, 'stopped');
          if (n.manuallyStopped) return;
          n.desiredUp = true;
          await n.start(`restarted by ${actor.role}`);
        }),
      );
      return plan;
    },
    addChild(parentId, input, actor, opts = {}) {
      const parent = findActive(parentId, 'given children');
      if (!(parent instanceof SupervisorNode)) throw conflict(parent, 'it is a worker; children go under a supervisor');
      const spec = dynamicChildSpec(parent, input, { allowRun: opts.allowRun === true, baseDir: host.baseDir, taken: (id) => byId.has(id) });
      const ids: string[] = [];
      const collect = (c: ChildSpec) => {
        ids.push(c.id);
        if (c.type === 'supervisor') c.children.forEach(collect);
      };
      collect(spec);
      const going = ids.find((id) => deleting.has(id));
      if (going) {
        throw new EdgevisorError(codes.STATE_CONFLICT, `${going} is being deleted: add it again once it is gone from the tree (its stop can take up to its shutdown grace)`);
      }
      const taken = ids.filter((id) => byId.has(id));
      if (taken.length) throw new EdgevisorError(codes.CHILD_EXISTS, `the tree already has a child "${taken[0]}"; ids are unique across the whole tree`);
      const max = parent.spec.maxChildren;
      // A child being deleted is on its way out: it leaves room for a new one at once.
      const counted = parent.children.filter((c) => !deleting.has(c.id)).length;
      if (max !== undefined && counted >= max) throw conflict(parent, `it has ${counted} children, its max_children`);
      manual(parent, 'add', actor, { added: spec.id, parent: parent.id }, `: ${spec.id}`);
      let node: TreeNode;
      try {
        node = parent.addNode(spec);
      } catch (err) {
        // A backend this supervisor was not given (docker in a tree without Docker children).
        throw childInvalid([`child: ${(err as Error).message}`]);
      }
      const register = (n: TreeNode) => {
        byId.set(n.id, n);
        dynamic.add(n.id);
        if (n instanceof SupervisorNode) n.children.forEach(register);
      };
      register(node);
      return withInner(node.snapshot());
    },
    removeChild(id, actor) {
      const n = find(id);
      if (!dynamic.has(id)) throw conflict(n, 'it is declared in the tree file; only children added at run time can be deleted (stop it instead)');
      const parent = n.parent;
      if (!(parent instanceof SupervisorNode)) throw conflict(n, 'it has no supervisor');
      if (deleting.has(id)) throw new EdgevisorError(codes.STATE_CONFLICT, `${id} is being deleted: it is stopping and then leaves the tree`);
      manual(n, 'delete', actor);
      const each = (x: TreeNode, fn: (x: TreeNode) => void) => {
        fn(x);
        if (x instanceof SupervisorNode) x.children.forEach((c) => each(c, fn));
      };
      each(n, (x) => deleting.add(x.id));
      void background(
        parent.removeNode(n, `deleted by ${actor.role}`).then(
          () =>
            each(n, (x) => {
              byId.delete(x.id);
              dynamic.delete(x.id);
              deleting.delete(x.id);
            }),
          (err: unknown) => {
            each(n, (x) => deleting.delete(x.id)); // still in the tree: a delete may be tried again
            throw err;
          },
        ),
      );
    },
    logs(id, n) {
      if (!byId.has(id) && innerOf(id)?.nodes().some((x) => x.id === id)) return []; // an app's inner node: its app keeps its logs
      const node = find(id);
      return node instanceof WorkerNode ? node.logs(n) : [];
    },
    async output(id, n, signal) {
      if (!byId.has(id) && innerOf(id)?.nodes().some((x) => x.id === id)) return [];
      const node = find(id);
      return node instanceof WorkerNode ? node.output(n, signal) : [];
    },
    record(draft) {
      return host.emit(draft);
    },
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
