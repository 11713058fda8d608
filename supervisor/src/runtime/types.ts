import type { ChildState } from '../core/lifecycle.ts';
import type { EventDraft, TreeEvent } from '../core/events.ts';
import type { BackendKind, UnitInfo } from '../backends/types.ts';

/** Who asked for a manual action (recorded in the event log). */
export type Role = 'viewer' | 'technician';
export interface Actor {
  role: Role;
  /** Where it came from: 'api', 'cli', 'dashboard'... */
  via?: string;
}

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
  lastReason: string | null;
  /** True after a manual stop: no probe, exit or strategy restarts it until started again. */
  manuallyStopped: boolean;
  backend?: BackendKind;
  probes: ProbeStatus[];
  info?: UnitInfo;
  /** Child ids, in start order (supervisors only). */
  children?: string[];
}

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
  restartChild(id: string, actor: Actor): void;
  stopChild(id: string, actor: Actor): void;
  startChild(id: string, actor: Actor): void;
  /** Last lines of a worker's output. */
  logs(id: string, n?: number): string[];
  /**
   * Records an event raised outside the runtime (the event log's own alarms): numbered, stored and
   * broadcast like the tree's events. Never throws.
   */
  record(draft: EventDraft): TreeEvent;
  /** Live events (already numbered and persisted). Returns an unsubscribe function. */
  onEvent(listener: (event: TreeEvent) => void): () => void;
}
