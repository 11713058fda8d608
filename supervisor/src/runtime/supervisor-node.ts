import { isUp } from '../core/lifecycle.ts';
import { initialBackoff } from '../core/backoff.ts';
import { emptyWindow, type IntensityWindow } from '../core/intensity.ts';
import { decide, type ChildMarks, type DecideEvent, type Step, type SupervisorView } from '../core/decide.ts';
import { planManualRestart, type ManualRestartPlan } from '../core/manual-restart.ts';
import type { BackoffSpec, ChildSpec, SupervisorSpec } from '../spec/types.ts';
import { backendKey } from '../backends/registry.ts';
import { EdgevisorError, codes } from '../errors.ts';
import type { ChildSnapshot } from './types.ts';
import { SerialQueue } from './serial-queue.ts';
import { TreeNode, type Failure, type NodeHost, type ParentLink } from './node.ts';
import { WorkerNode } from './worker-node.ts';
import type { TimerHandle } from './clock.ts';

type Executor<K extends Step['kind']> = (node: SupervisorNode, step: Extract<Step, { kind: K }>) => void | Promise<void>;

/**
 * One executor per step kind of core/decide.ts; the compiler checks that none is missing.
 * Executors do what the step says and decide nothing (the `ifStillUp` check aside: see Step).
 */
const executors = {
  mark: (node, step) => applyMarks(node.childById(step.child), step.set),
  record: (node, step) => node.setWindow(step.window),
  emit: (node, step) => {
    if (step.ifStillUp && !stillUp(node.childById(step.event.child))) return;
    node.emitEvent(step.event);
  },
  stop: async (node, step) => {
    const c = node.childById(step.child);
    if (step.ifStillUp && !stillUp(c)) return;
    if (step.set) applyMarks(c, step.set);
    await c.stop(step.reason, step.next);
    if (step.then && !c.manuallyStopped) applyMarks(c, step.then);
  },
  start: async (node, step) => {
    const c = node.childById(step.child);
    c.startReason = null;
    await c.launch(step.reason);
  },
  watch: (node, step) => node.watchStartup(node.childById(step.child)),
  wait: (node, step) => node.scheduleReconcile(step.at),
  settle: (node, step) => node.settle(step.reason),
  escalate: (node, step) => node.escalate(step),
} satisfies { [K in Step['kind']]: Executor<K> };

/** Up, not stopped by a technician, still wanted up: a sibling the strategy takes down. */
function stillUp(c: TreeNode): boolean {
  return isUp(c.state) && !c.manuallyStopped && c.desiredUp;
}

function applyMarks(c: TreeNode, set: ChildMarks): void {
  if (set.handledGeneration !== undefined) c.handledGeneration = set.handledGeneration;
  if (set.pendingFailure !== undefined) c.pendingFailure = set.pendingFailure;
  if (set.desiredUp !== undefined) c.desiredUp = set.desiredUp;
  if (set.dueAt !== undefined) c.dueAt = set.dueAt;
  if (set.backoff !== undefined) c.backoff = set.backoff;
  if (set.startReason !== undefined) c.startReason = set.startReason;
  if (set.countRestart) c.restarts++;
}

/**
 * A supervisor: starts its children in order, stops them in reverse order, and applies its
 * strategy, restart intensity and backoff when one fails. Past its intensity it stops everything
 * and fails to its parent; the root instead ends in `gave_up` and raises an alarm (with
 * `on_give_up: stop_failed` it stops only the failing child: the healthy ones keep serving).
 * What to do is decided by core/decide.ts from a view of this node (`view()`); this class only
 * runs the steps (`executors`) and owns the queue and the timers.
 *
 * INVARIANTS:
 * - Everything that changes the set of running children (failure handling, delayed restarts,
 *   manual actions, start, stop) runs on `queue`, one task at a time.
 * - A failure report whose generation is older than the child's is dropped: the child has been
 *   restarted or stopped since, so the report is about a run that no longer exists.
 */
export class SupervisorNode extends TreeNode implements ParentLink {
  declare readonly spec: SupervisorSpec;
  readonly children: TreeNode[];
  readonly queue = new SerialQueue();
  private window: IntensityWindow = emptyWindow;
  /** simple_one_for_one: the n of the next default id `<supervisor>-<n>`. */
  private nextSerial = 1;
  private timers = new Set<TimerHandle>();

  constructor(spec: SupervisorSpec, parent: ParentLink | null, host: NodeHost) {
    super(spec, parent, host);
    this.children = spec.children.map((c) => (c.type === 'supervisor' ? new SupervisorNode(c, this, host) : new WorkerNode(c, this, host)));
    // A template's backend is checked when the tree is built, as a static child's is, not at the first add.
    const key = spec.template && backendKey(spec.template.backend);
    if (key && !host.backends[key]) {
      const custom = spec.template!.backend.kind === 'custom' ? ' (register it with registerBackend before building the tree)' : '';
      throw new EdgevisorError(codes.START_FAILED, `${spec.id}: its template needs a ${key} backend, and none is available in this supervisor${custom}`);
    }
  }

  /**
   * Adds a child at the end of the start order (a dynamic child, or one made from the template);
   * a running supervisor starts it with its next reconcile pass, a stopped one when it starts.
   */
  addNode(spec: ChildSpec): TreeNode {
    const node = spec.type === 'supervisor' ? new SupervisorNode(spec, this, this.host) : new WorkerNode(spec, this, this.host);
    this.children.push(node);
    if (this.state === 'running' || this.state === 'starting') this.scheduleReconcile(0);
    return node;
  }

  /** Stops a child (on the queue, like every change of the set of children), then removes it. */
  async removeNode(node: TreeNode, reason: string): Promise<void> {
    node.manuallyStopped = true;
    node.desiredUp = false;
    await this.queue.run(async () => {
      await node.stop(reason, 'stopped');
      await node.close();
      const i = this.children.indexOf(node);
      if (i >= 0) this.children.splice(i, 1);
    });
  }

  /** A fresh default id for a child made from the template: `<supervisor>-<n>`, not among `taken`. */
  nextTemplateId(taken: (id: string) => boolean): string {
    let id: string;
    do id = `${this.id}-${this.nextSerial++}`;
    while (taken(id));
    return id;
  }

  get backoffSpec(): BackoffSpec {
    return this.spec.backoff;
  }

  childFailed(child: TreeNode, failure: Failure): void {
    this.queue.run(() => this.handleFailure(child, failure)).catch((err) => this.host.onInternalError(err));
  }

  async launch(reason: string): Promise<number> {
    const gen = ++this.generation;
    this.pendingFailure = false;
    this.setState('starting', reason);
    this.startedAt = this.host.now();
    this.window = emptyWindow; // a restarted supervisor starts with a fresh restart history, as in OTP
    for (const c of this.children) {
      c.desiredUp = !c.manuallyStopped;
      c.backoff = initialBackoff;
      c.dueAt = 0;
    }
    this.scheduleReconcile(0);
    return gen;
  }

  async stop(reason: string, next: 'stopped' | 'backoff' | 'failed'): Promise<void> {
    if (!isUp(this.state)) {
      // A root that gave up with stop_failed left its healthy children running: a stop takes them down too.
      if (this.state === 'gave_up') await this.queue.run(() => this.stopChildren(reason));
      if (this.state !== next) this.setState(next, reason);
      return;
    }
    if (this.state === 'stopping') {
      await this.waitUntil(() => this.state !== 'stopping');
      if (this.current() !== next) this.setState(next, reason);
      return;
    }
    this.generation++;
    this.cancelTimers();
    this.setState('stopping', reason);
    // A child still starting holds the queue (the start waits for its probes): stop it now so the
    // queued stop does not wait out its startup.
    const interrupted = this.children.filter((c) => c.state === 'starting').map((c) => c.stop(reason, 'stopped'));
    await Promise.all(interrupted);
    await this.queue.run(() => this.stopChildren(reason));
    this.startedAt = null;
    this.setState(next, reason);
  }

  /**
   * Start, in order, the children that should be up and are not; each starts after the previous
   * one is past its startup probes. The queue is not held while a child starts: the pass ends
   * ('waiting') and the end of that child's startup schedules the next pass, so failures of other
   * children are handled meanwhile.
   * Under rest_for_one and one_for_all the order is a dependency: a child that is down or backing
   * off holds every child after it ('blocked'). Under one_for_one siblings are independent: a child
   * that cannot come up is left to its own restarts and the rest still start (a broken dashboard
   * must not keep the cameras down).
   * A supervisor that is `starting` becomes `running` at the end of its first pass that is not
   * waiting on a startup: from then on it is in charge of its children, even of one backing off.
   */
  async reconcile(): Promise<void> {
    const tried: string[] = [];
    for (;;) {
      const steps = await this.run({ type: 'reconcile', tried });
      const started = steps.find((st) => st.kind === 'start');
      if (!started) return;
      tried.push(started.child);
    }
  }

  /** When `c` leaves `starting` (up, or down), run another pass. Once per run of `c`. */
  watchStartup(c: TreeNode): void {
    if (c.watchedGeneration === c.generation) return;
    const gen = c.generation;
    c.watchedGeneration = gen;
    void c.waitUntil(() => c.generation !== gen || c.state !== 'starting').then(() => this.scheduleReconcile(0));
  }

  private async handleFailure(child: TreeNode, f: Failure): Promise<void> {
    await this.run({ type: 'failed', child: child.id, failure: f });
  }

  /** The plain view core/decide.ts decides from, as of now. */
  view(): SupervisorView {
    return {
      id: this.id,
      state: this.state,
      strategy: this.spec.strategy,
      intensity: this.spec.intensity,
      periodMs: this.spec.periodMs,
      backoff: this.spec.backoff,
      window: this.window,
      hasParent: this.parent !== null,
      ...(this.spec.onGiveUp ? { onGiveUp: this.spec.onGiveUp } : {}),
      // The nodes themselves, read-only (a TreeNode has every ChildView field): no copy of every
      // child per decision. With copies, test/bench/library.bench.ts (1000 workers) gave a failure
      // -> replacement p50 of 0.47 ms against main's 0.39 ms; without, 0.40 ms (one loaded box,
      // noisy). decide() keeps no reference past its return.
      children: this.children,
    };
  }

  /** Decide, then run the steps in order. Returns the steps run (for reconcile's loop). */
  private async run(event: DecideEvent): Promise<Step[]> {
    const steps = decide(this.view(), event, this.host.now());
    for (const step of steps) await (executors[step.kind] as Executor<typeof step.kind>)(this, step as never);
    return steps;
  }

  childById(id: string): TreeNode {
    const c = this.children.find((x) => x.id === id);
    if (!c) throw new Error(`supervisor ${this.id}: a step names ${id}, which is not a child`);
    return c;
  }

  setWindow(window: IntensityWindow): void {
    this.window = window;
  }

  emitEvent(draft: Parameters<NodeHost['emit']>[0]): void {
    this.host.emit(draft);
  }

  settle(reason: string): void {
    if (this.state !== 'starting') return;
    this.upSince = this.host.now();
    this.setState('running', reason);
  }

  /** What a technician's restart of `child` takes down (core/manual-restart.ts), as of now. */
  planManualRestart(child: TreeNode, only: boolean): ManualRestartPlan {
    const view = this.children.map((c) => ({ id: c.id, up: isUp(c.state), manuallyStopped: c.manuallyStopped, restart: c.spec.restart }));
    return planManualRestart(this.spec.strategy, view, child.id, only);
  }

  /**
   * Carries out a manual restart plan: on the queue, the affected children stop in reverse start
   * order; then a reconcile pass starts them in order, each after the one before is past its
   * startup probes, as after a failure but with no intensity, backoff or delay. The queue is not
   * held while they start (a crash elsewhere is handled meanwhile). A sibling that went down
   * meanwhile is left to its own restart.
   */
  async restartManually(plan: ManualRestartPlan, by: string): Promise<void> {
    await this.queue.run(() => this.run({ type: 'manual_restart', plan, by }));
  }

  /** More than `intensity` restarts in `period`: stop everything, then fail upwards (or give up at the root). */
  async escalate(step: Extract<Step, { kind: 'escalate' }>): Promise<void> {
    const ranForMs = this.ranFor();
    this.generation++;
    this.cancelTimers();
    this.setState('stopping', step.reason);
    // A root with on_give_up: stop_failed stops only the child past its intensity (step.only): the
    // healthy ones keep serving, unsupervised, until a technician starts the root again.
    if (step.only !== undefined) await this.childById(step.only).stop(`supervisor ${this.id} is giving up`, 'stopped');
    else await this.stopChildren(`supervisor ${this.id} is giving up`);
    this.startedAt = null;
    if (step.toParent && this.parent) {
      this.pendingFailure = true;
      this.setState('failed', step.reason);
      this.parent.childFailed(this, { ...step.failure, ranForMs, generation: this.generation });
    } else {
      this.setState('gave_up', step.reason);
    }
  }

  /** Reverse start order; simple_one_for_one children all at once, in no order (as OTP does). */
  private async stopChildren(reason: string): Promise<void> {
    if (this.spec.strategy === 'simple_one_for_one') {
      await Promise.all(this.children.map((c) => c.stop(reason, 'stopped')));
      return;
    }
    for (const c of [...this.children].reverse()) {
      await c.stop(reason, 'stopped');
    }
  }

  scheduleReconcile(at: number): void {
    const run = () => this.queue.run(() => this.reconcile()).catch((err) => this.host.onInternalError(err));
    const delay = at - this.host.now();
    if (delay <= 0) {
      void run();
      return;
    }
    const t = this.host.clock.setTimeout(() => {
      this.timers.delete(t);
      void run();
    }, delay);
    this.timers.add(t);
  }

  private cancelTimers(): void {
    for (const t of this.timers) this.host.clock.clearTimeout(t);
    this.timers.clear();
  }

  async close(): Promise<void> {
    this.cancelTimers();
    for (const c of this.children) await c.close();
  }

  snapshot(): ChildSnapshot {
    return { ...this.baseSnapshot(), type: 'supervisor', probes: [], children: this.children.map((c) => c.id) };
  }
}
