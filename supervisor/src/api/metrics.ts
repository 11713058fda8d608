import { Counter, Gauge, Registry } from 'prom-client';
import { childStates } from '../core/lifecycle.ts';
import type { TreeEvent } from '../core/events.ts';
import type { Tree } from '../runtime/types.ts';
import type { StoreHealth } from '../store/buffered-store.ts';

/** The Prometheus side of the API. Own registry per app: no global state, several apps per test. */
export interface TreeMetrics {
  readonly registry: Registry;
  /** Prometheus text exposition. */
  render(): Promise<string>;
  /** Stops counting events (call on app close). */
  close(): void;
}

/**
 * A bounded label for a restart: the cause the runtime recorded (exit, probe, heartbeat,
 * manual, strategy...). Free-text reasons such as "exit code 137" would grow series without bound.
 */
function restartReason(ev: TreeEvent): string {
  const cause = ev.data?.['cause'];
  return typeof cause === 'string' && cause.length > 0 && cause.length <= 40 ? cause : 'unknown';
}

export function createTreeMetrics(tree: Pick<Tree, 'snapshot' | 'onEvent'>, storeHealth?: () => StoreHealth): TreeMetrics {
  const registry = new Registry();

  if (storeHealth) {
    new Gauge({
      name: 'edgevisor_store_writable',
      help: 'The event log takes writes: 1, or 0 while the disk is full / failing (events are then kept in memory).',
      registers: [registry],
      collect() {
        this.set(storeHealth().writable ? 1 : 0);
      },
    });
    new Gauge({
      name: 'edgevisor_store_pending_events',
      help: 'Events numbered and kept in memory, waiting to be written to the event log.',
      registers: [registry],
      collect() {
        this.set(storeHealth().pending);
      },
    });
    new Gauge({
      name: 'edgevisor_store_dropped_events',
      help: 'Events dropped from memory since start because the log stayed unwritable and the buffer was full.',
      registers: [registry],
      collect() {
        this.set(storeHealth().dropped);
      },
    });
  }

  // Gauges computed at scrape time from the snapshot: always exact, nothing to keep in sync.
  new Gauge({
    name: 'edgevisor_child_state',
    help: 'Current lifecycle state of each node: 1 for the state it is in, 0 for the others.',
    labelNames: ['child', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const node of tree.snapshot().nodes) {
        for (const state of childStates) this.set({ child: node.id, state }, node.state === state ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'edgevisor_probe_up',
    help: 'Last verdict of each probe: 1 passed, 0 failed (absent until it has run since the child started).',
    labelNames: ['child', 'probe'],
    registers: [registry],
    collect() {
      this.reset();
      for (const node of tree.snapshot().nodes) {
        for (const p of node.probes) if (p.ok !== null) this.set({ child: node.id, probe: p.name }, p.ok ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'edgevisor_probe_latency_seconds',
    help: 'Duration of the last run of each probe, in seconds.',
    labelNames: ['child', 'probe'],
    registers: [registry],
    collect() {
      this.reset();
      for (const node of tree.snapshot().nodes) {
        for (const p of node.probes) if (p.latencyMs !== undefined) this.set({ child: node.id, probe: p.name }, p.latencyMs / 1000);
      }
    },
  });

  // Counters follow the live event stream (they restart from 0 with the process, as counters do).
  const restarts = new Counter({
    name: 'edgevisor_child_restarts_total',
    help: 'Restarts decided by the supervisor, by child and cause.',
    labelNames: ['child', 'reason'],
    registers: [registry],
  });
  const events = new Counter({
    name: 'edgevisor_events_total',
    help: 'Events recorded in the event log since the supervisor started, by type.',
    labelNames: ['type'],
    registers: [registry],
  });
  const unsubscribe = tree.onEvent((ev) => {
    events.inc({ type: ev.type });
    if (ev.type === 'restart') restarts.inc({ child: ev.child, reason: restartReason(ev) });
    // A manual restart is carried out directly, without a 'restart' decision event.
    else if (ev.type === 'manual' && ev.data?.['action'] === 'restart') restarts.inc({ child: ev.child, reason: 'manual' });
  });

  return {
    registry,
    render: () => registry.metrics(),
    close: unsubscribe,
  };
}
