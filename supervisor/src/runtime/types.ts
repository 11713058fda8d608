import type { ChildState } from '../core/lifecycle.ts';
import type { EventDraft, TreeEvent } from '../core/events.ts';
import type { BackendKind, UnitInfo } from '../backends/types.ts';
import type { ManualRestartPlan } from '../core/manual-restart.ts';
import type { NotifyStatus } from './notify-watch.ts';

/** Who asked for a manual action (recorded in the event log). */
export type Role = 'viewer' | 'technician';
/** A manual action's author: the role its token proved and where it came from. */
export interface Actor {
  role: Role;
  /** Where it came from: 'api', 'cli', 'dashboard'... */
  via?: string;
  /** Set when another process passed the action on (an app's inner tree: 'supervisor'). */
  forwardedBy?: string;
}

/** One probe of a worker as a snapshot shows it: its last verdict, failures in a row, last error and latency. */
export interface ProbeStatus {
  name: string;
  kind: string;
  /** null until the probe has run once since the child started. */
  ok: boolean | null;
  consecutiveFailures: number;
  lastError?: string;
  latencyMs?: number;
  lastRunAt?: number;
}

/** One node of a tree (a worker or a supervisor) at one instant, as the API, the CLI and the dashboard show it. */
export interface ChildSnapshot {
  id: string;
  type: 'worker' | 'supervisor';
  /** Parent supervisor id; null for the root. */
  parent: string | null;
  state: ChildState;
  /** Unix ms of the last state change. */
  since: number;
  /** Unix ms when the current run started (null when down). */
  startedAt: number | null;
  /** Restarts decided by the supervisor since the tree started (manual ones included). */
  restarts: number;
  /** Why the last transition happened (e.g. "startup probes passed"). */
  lastReason: string | null;
  /**
   * Why it was last restarted, in words a technician understands ("crashed: exit code 137, killed
   * by the OOM killer", "restarted by a technician (dashboard)"); null if never restarted. Set when
   * the restart is decided and kept through the transitions that follow.
   */
  lastRestartReason: string | null;
  /** Unix ms of that restart decision. */
  lastRestartAt: number | null;
  /** True after a manual stop: no probe, exit or strategy restarts it until started again. */
  manuallyStopped: boolean;
  backend?: BackendKind;
  /** A typed worker's own state (declared with defineWorker, e.g. `streaming`), while it has a run. */
  workerState?: string;
  /** Unix ms it entered `workerState`. */
  workerStateSince?: number;
  probes: ProbeStatus[];
  info?: UnitInfo;
  /** Child ids, in start order (supervisors; for a worker with `inner_tree`, its app's top-level inner nodes). */
  children?: string[];
  /** Added at run time (`tree.addChild`), not declared in the tree file; on an inner node, added so in its app's tree. */
  dynamic?: true;
  /** Set on the nodes of an app's inner tree, merged under their child (inner/inner-tree.ts); ids are `<child>/<innerId>`. */
  inner?: true;
  /** Inner nodes: true when the app's tree has not been fetched lately; state and counters are then the last known. */
  stale?: boolean;
  /** Inner nodes: unix ms of the app's answer the values come from. */
  fetchedAt?: number;
  /** On a worker with `inner_tree`: how fetching its app's tree goes. */
  innerTree?: InnerTreeStatus;
  /** On a worker with `notify`/`watchdog` (sd_notify): READY=1, the last ping, STATUS=. */
  notify?: NotifyStatus;
}

/** The polling of one child's inner tree, as its snapshot shows it. */
export interface InnerTreeStatus {
  /** The inner tree's root state as the app last reported it; null before the first answer. */
  state: ChildState | null;
  /** Unix ms of the last good answer; null if none yet. */
  fetchedAt: number | null;
  /** No good answer within 3 polling periods (or the last poll failed): inner nodes are marked stale. */
  stale: boolean;
  /** Why the last poll failed (no URL credentials in it), null after a good one. */
  error: string | null;
}

/** A whole tree at one instant: its name, the root's state, and every node in start order. */
export interface TreeSnapshot {
  name: string;
  state: ChildState;
  /** Every node, root first, in tree (start) order. */
  nodes: ChildSnapshot[];
}

/**
 * Where events go. The store implements it: numbers the event (seq continues across supervisor
 * restarts), persists it, returns it. The runtime then broadcasts the numbered event.
 */
export interface EventSink {
  append(draft: EventDraft): TreeEvent;
}

/** A running supervision tree. Created by runtime/tree.ts `createTree(spec, deps)`. */
export interface Tree {
  readonly name: string;
  /** Start every child in order (each after the previous one is past its startup probes). */
  start(): Promise<void>;
  /**
   * Stop every child in reverse order, each with its own shutdown. Idempotent.
   * `leaveRunning`: units a later supervisor can adopt (containers) are let go of, still running,
   * instead of stopped; their children's events are no longer acted on.
   */
  stop(opts?: { leaveRunning?: boolean }): Promise<void>;
  snapshot(): TreeSnapshot;
  child(id: string): ChildSnapshot | undefined;
  /**
   * Manual actions. They validate synchronously and throw EdgevisorError with code
   * UNKNOWN_CHILD or STATE_CONFLICT; the work itself then proceeds in the background
   * (the API answers 202).
   */
  /**
   * Restarts what the parent's strategy would restart if the child failed (rest_for_one: it and
   * the children after it; one_for_all: every sibling), or the child alone with `only`; not
   * counted toward restart intensity. Returns the plan, in start order (core/manual-restart.ts).
   */
  restartChild(id: string, actor: Actor, opts?: { only?: boolean }): ManualRestartPlan;
  stopChild(id: string, actor: Actor): void;
  startChild(id: string, actor: Actor): void;
  /**
   * A manual action on an inner node (`camera/dock`, see inner/inner-tree.ts): passed to the
   * child's app and recorded once the app accepted it. `delete`: of a node the app added at run
   * time. Throws UNKNOWN_CHILD, STATE_CONFLICT (the app's 404/409) or INNER_UNAVAILABLE.
   */
  innerAction(id: string, action: 'restart' | 'stop' | 'start' | 'delete', actor: Actor): Promise<void>;
  /**
   * `addChild` under an inner supervisor (`camera/discovered`): passed to the child's app, which
   * checks `child` against its own tree; recorded once the app accepted it. Resolves with the new
   * node (`camera/<id>`, as the next poll will show it). Throws the app's refusal with its code
   * (BAD_REQUEST, SPEC_INVALID, UNKNOWN_CHILD, CHILD_EXISTS, STATE_CONFLICT) or INNER_UNAVAILABLE.
   */
  innerAdd(parentId: string, child: unknown, actor: Actor): Promise<ChildSnapshot>;
  /**
   * Adds a child to the running tree under supervisor `parentId` (a dynamic child: the tree file
   * stays the declaration of the static part). Under a `simple_one_for_one` supervisor `child` is
   * the template's overrides (`{ id?, env?, args?, options? }` as its backend takes them: env/args
   * for process and thread, options for custom, id alone for inproc and docker; default id
   * `<supervisor>-<n>`; spec/load.ts `TEMPLATE_OVERRIDES`); under any other
   * supervisor it is a child spec as in the tree file (`allowRun`: an inproc child may carry `run`,
   * code only). Validated by the tree file's schema: SPEC_INVALID with one message per problem,
   * `child.<field>: ...`. Throws UNKNOWN_CHILD (no such parent), CHILD_EXISTS (the id is taken),
   * STATE_CONFLICT (the parent is a worker, or a simple_one_for_one at its max_children). Recorded
   * as a `manual` event (action `add`); the child starts with its parent's next reconcile pass
   * (at the end of the start order), or when its parent starts. Returns its snapshot.
   */
  addChild(parentId: string, child: unknown, actor: Actor, opts?: { allowRun?: boolean }): ChildSnapshot;
  /**
   * Stops a child added at run time, then deletes it (a `manual` event, action `delete`; it is
   * gone from the snapshot once stopped). A child declared in the tree file cannot be deleted
   * (STATE_CONFLICT: stop it instead).
   */
  removeChild(id: string, actor: Actor): void;
  /** Last lines of a worker's output. */
  logs(id: string, n?: number): string[];
  /** Last `n` lines of a worker's output as its backend keeps it (a container's log for Docker). */
  output?(id: string, n: number, signal: AbortSignal): Promise<string[]>;
  /**
   * Records an event raised outside the runtime (the event log's own alarms): numbered, stored and
   * broadcast like the tree's events. Never throws.
   */
  record(draft: EventDraft): TreeEvent;
  /** Live events (already numbered and persisted). Returns an unsubscribe function. */
  onEvent(listener: (event: TreeEvent) => void): () => void;
}
