import { EdgevisorError, codes } from '../errors.ts';
import type { EventDraft, TreeEvent } from '../core/events.ts';
import type { BackendRegistry } from '../backends/types.ts';
import type { ProbeCheck, TreeSpec } from '../spec/types.ts';
import type { ProbeResult, ProbeTarget } from '../probes/types.ts';
import { runProbe as defaultRunProbe } from '../probes/index.ts';
import { SerialQueue } from './serial-queue.ts';
import type { NodeHost, TreeNode } from './node.ts';
import { SupervisorNode } from './supervisor-node.ts';
import { WorkerNode } from './worker-node.ts';
import type { Actor, ChildSnapshot, EventSink, Tree, TreeSnapshot } from './types.ts';

export interface TreeDeps {
  /** Units per backend kind (process/inproc from backends/index.ts, docker from backends/docker). */
  backends: BackendRegistry;
  /** Persists and numbers events (the SQLite store). Without one, events are numbered in memory. */
  sink?: EventSink;
  /** Directory relative paths resolve against (default: the tree file's directory, else cwd). */
  baseDir?: string;
  now?: () => number;
  runProbe?: (check: ProbeCheck, target: ProbeTarget, timeoutMs: number, signal: AbortSignal) => Promise<ProbeResult>;
  /** Bugs surfaced from background tasks (illegal transitions). Default: print them. */
  onInternalError?: (err: unknown) => void;
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
  const sink = deps.sink ?? memorySink();
  const onInternalError = deps.onInternalError ?? ((err: unknown) => console.error('edgevisor: internal error:', err));
  const host: NodeHost = {
    now: deps.now ?? Date.now,
    backends: deps.backends,
    baseDir: deps.baseDir ?? (spec.file ? spec.file.replace(/[/\\][^/\\]*$/, '') : process.cwd()),
    runProbe: deps.runProbe ?? defaultRunProbe,
    onInternalError,
    emit(draft: EventDraft): TreeEvent {
      const event = sink.append({ ...draft, ts: draft.ts ?? host.now() });
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
  const root = new SupervisorNode(spec.root, null, host);
  const rootQueue = new SerialQueue();
  const byId = new Map<string, TreeNode>();
  const walk = (n: TreeNode) => {
    byId.set(n.id, n);
    if (n instanceof SupervisorNode) n.children.forEach(walk);
  };
  walk(root);

  const find = (id: string): TreeNode => {
    const n = byId.get(id);
    if (!n) throw new EdgevisorError(codes.UNKNOWN_CHILD, `no child "${id}" (known: ${[...byId.keys()].join(', ')})`);
    return n;
  };
  const queueOf = (n: TreeNode): SerialQueue => (n.parent instanceof SupervisorNode ? n.parent.queue : rootQueue);
  const conflict = (n: TreeNode, msg: string) => new EdgevisorError(codes.STATE_CONFLICT, `${n.id} is ${n.state}: ${msg}`);
  const parentDown = (n: TreeNode): string | null => {
    const p = n.parent;
    return p instanceof SupervisorNode && p.state !== 'running' && p.state !== 'starting' ? p.id : null;
  };
  const background = (p: Promise<unknown>) => p.catch(onInternalError);
  const manual = (n: TreeNode, action: string, actor: Actor) =>
    host.emit({ type: 'manual', child: n.id, reason: `${action} requested by ${actor.role}${actor.via ? ` via ${actor.via}` : ''}`, data: { action, role: actor.role, via: actor.via } });

  let started: Promise<void> | null = null;
  let stopped: Promise<void> | null = null;

  return {
    name: spec.name,
    start() {
      started ??= rootQueue.run(async () => {
        await root.start('tree start');
      });
      return started;
    },
    stop(opts = {}) {
      stopped ??= (async () => {
        if (opts.leaveRunning) for (const n of byId.values()) if (n instanceof WorkerNode) n.letGo('supervisor exiting');
        // Not on rootQueue: a start still in progress must be interrupted, not waited out.
        await root.stop('supervisor shutting down', 'stopped');
        if (started) await started.catch(() => undefined);
        await root.close();
      })();
      return stopped;
    },
    snapshot(): TreeSnapshot {
      const nodes: ChildSnapshot[] = [];
      const visit = (n: TreeNode) => {
        nodes.push(n.snapshot());
        if (n instanceof SupervisorNode) n.children.forEach(visit);
      };
      visit(root);
      return { name: spec.name, state: root.state, nodes };
    },
    child(id) {
      return byId.get(id)?.snapshot();
    },
    stopChild(id, actor) {
      const n = find(id);
      if (n.state === 'stopped' || n.state === 'stopping') throw conflict(n, 'it is already stopped');
      manual(n, 'stop', actor);
      n.manuallyStopped = true;
      n.desiredUp = false;
      void background(queueOf(n).run(() => n.stop(`stopped by ${actor.role}`, 'stopped')));
    },
    startChild(id, actor) {
      const n = find(id);
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
    restartChild(id, actor) {
      const n = find(id);
      if (n.manuallyStopped || n.state === 'stopped' || n.state === 'gave_up') throw conflict(n, `it is not running; use start`);
      if (n.state === 'stopping') throw conflict(n, 'it is being stopped');
      const down = parentDown(n);
      if (down) throw conflict(n, `its supervisor ${down} is not running; start ${down} first`);
      manual(n, 'restart', actor);
      n.restarts++;
      void background(
        queueOf(n).run(async () => {
          await n.stop(`restart requested by ${actor.role}`, 'stopped');
          if (n.manuallyStopped) return;
          n.desiredUp = true;
          await n.start(`restarted by ${actor.role}`);
        }),
      );
    },
    logs(id, n) {
      const node = find(id);
      return node instanceof WorkerNode ? node.logs(n) : [];
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
