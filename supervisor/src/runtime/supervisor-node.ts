import { isUp } from '../core/lifecycle.ts';
import { onFailure, initialBackoff } from '../core/backoff.ts';
import { emptyWindow, recordRestart, type IntensityWindow } from '../core/intensity.ts';
import { affectedByFailure, shouldRestart } from '../core/strategy.ts';
import { planManualRestart, type ManualRestartPlan } from '../core/manual-restart.ts';
import type { BackoffSpec, SupervisorSpec } from '../spec/types.ts';
import type { ChildSnapshot } from './types.ts';
import { SerialQueue } from './serial-queue.ts';
import { TreeNode, type Failure, type NodeHost, type ParentLink } from './node.ts';
import { WorkerNode } from './worker-node.ts';

/**
 * A supervisor: starts its children in order, stops them in reverse order, and applies its
 * strategy, restart intensity and backoff when one fails. Past its intensity it stops everything
 * and fails to its parent; the root instead ends in `gave_up` and raises an alarm (with
 * `on_give_up: stop_failed` it stops only the failing child: the healthy ones keep serving).
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
  private timers = new Set<NodeJS.Timeout>();

  constructor(spec: SupervisorSpec, parent: ParentLink | null, host: NodeHost) {
    super(spec, parent, host);
    this.children = spec.children.map((c) => (c.type === 'supervisor' ? new SupervisorNode(c, this, host) : new WorkerNode(c, this, host)));
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
  async reconcile(): Promise<'complete' | 'waiting' | 'blocked'> {
    const outcome = await this.reconcilePass();
    if (this.state === 'starting' && outcome !== 'waiting') {
      this.upSince = this.host.now();
      this.setState('running', outcome === 'complete' ? 'all children started' : 'started; some children are not up yet');
    }
    return outcome;
  }

  private async reconcilePass(): Promise<'complete' | 'waiting' | 'blocked'> {
    const dependent = this.spec.strategy !== 'one_for_one';
    let outcome: 'complete' | 'blocked' = 'complete';
    for (const c of this.children) {
      if (this.state !== 'running' && this.state !== 'starting') return 'blocked';
      if (!c.desiredUp || c.manuallyStopped) continue;
      if (c.state === 'running') continue;
      if (c.state === 'starting') {
        this.watchStartup(c);
        return 'waiting';
      }
      const now = this.host.now();
      const down = c.pendingFailure || c.state === 'unhealthy' || c.state === 'stopping' || (c.state === 'backoff' && c.dueAt > now);
      if (down) {
        if (c.state === 'backoff' && !c.pendingFailure) this.scheduleReconcile(c.dueAt);
        if (dependent) return 'blocked';
        outcome = 'blocked';
        continue;
      }
      const why = c.startReason ?? (c.state === 'backoff' ? 'restart' : 'start');
      c.startReason = null;
      await c.launch(why);
      if (c.current() === 'starting') {
        this.watchStartup(c);
        return 'waiting';
      }
      if (c.current() === 'running' || !c.desiredUp) continue;
      if (dependent) return 'blocked';
      outcome = 'blocked';
    }
    return outcome;
  }

  /** When `c` leaves `starting` (up, or down), run another pass. Once per run of `c`. */
  private watchStartup(c: TreeNode): void {
    if (c.watchedGeneration === c.generation) return;
    const gen = c.generation;
    c.watchedGeneration = gen;
    void c.waitUntil(() => c.generation !== gen || c.state !== 'starting').then(() => this.scheduleReconcile(0));
  }

  private async handleFailure(child: TreeNode, f: Failure): Promise<void> {
    if (child.generation !== f.generation || child.handledGeneration === f.generation) return;
    child.handledGeneration = f.generation;
    child.pendingFailure = false;
    if (this.state !== 'running' && this.state !== 'starting') return;
    if (child.manuallyStopped) return;
    if (!shouldRestart(child.spec.restart, f.cause, f.normal)) {
      child.desiredUp = false;
      if (isUp(child.state)) await child.stop(`${f.reason} (restart: ${child.spec.restart}, not restarted)`, 'failed');
      this.scheduleReconcile(0); // children held behind it in the start order may go on
      return;
    }
    const now = this.host.now();
    const intensity = recordRestart(this.window, now, this.spec.intensity, this.spec.periodMs);
    this.window = intensity.window;
    if (intensity.exceeded) {
      await this.escalate(child, f);
      return;
    }
    const { delayMs, state } = onFailure(child.backoff, this.spec.backoff, f.ranForMs);
    child.backoff = state;
    const affected = affectedByFailure(
      this.spec.strategy,
      this.children.map((c) => c.id),
      child.id,
    ).map((id) => this.children.find((c) => c.id === id)!);
    const restarted = affected.filter((c) => c === child || (isUp(c.state) && !c.manuallyStopped && c.spec.restart !== 'temporary'));
    child.restarts++;
    this.host.emit({
      type: 'restart',
      child: child.id,
      reason: `${f.reason}; restarting ${restarted.map((c) => c.id).join(', ')}${delayMs > 0 ? ` in ${delayMs}ms` : ''} (${this.spec.strategy})`,
      data: { ...f.data, cause: f.cause, strategy: this.spec.strategy, supervisor: this.id, affected: restarted.map((c) => c.id), delayMs },
    });
    const dueAt = now + delayMs;
    // Take the affected siblings down in reverse start order, the failed child with them.
    for (const c of [...affected].reverse()) {
      if (c === child) {
        c.dueAt = dueAt;
        await c.stop(f.reason, 'backoff');
        continue;
      }
      if (c.manuallyStopped || !c.desiredUp || !isUp(c.state)) continue;
      const why = `${this.spec.strategy}: ${child.id} failed`;
      if (c.spec.restart === 'temporary') {
        c.desiredUp = false; // OTP: a temporary sibling is terminated, never restarted
        await c.stop(why, 'stopped');
        continue;
      }
      c.restarts++;
      c.dueAt = dueAt;
      this.host.emit({ type: 'restart', child: c.id, reason: why, data: { cause: 'sibling', sibling: child.id, strategy: this.spec.strategy, supervisor: this.id, delayMs } });
      await c.stop(why, 'backoff');
    }
    this.scheduleReconcile(dueAt);
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
    const named = this.children.find((c) => c.id === plan.child)!;
    const inOrder = this.children.filter((c) => plan.restarting.includes(c.id) || plan.stopping.includes(c.id));
    await this.queue.run(async () => {
      if (this.state !== 'running' && this.state !== 'starting') return;
      for (const c of [...inOrder].reverse()) {
        if (c !== named && (c.manuallyStopped || !c.desiredUp || !isUp(c.state))) continue;
        const why = c === named ? `restart requested by ${by}` : `${this.spec.strategy}: ${named.id} restarted by ${by}`;
        if (plan.stopping.includes(c.id)) {
          c.desiredUp = false; // temporary: never started again, as on a failure
          await c.stop(why, 'stopped');
          continue;
        }
        if (c !== named) {
          c.restarts++;
          this.host.emit({ type: 'restart', child: c.id, reason: why, data: { cause: 'manual', sibling: named.id, strategy: this.spec.strategy, supervisor: this.id, delayMs: 0 } });
        }
        await c.stop(why, 'stopped');
        if (c.manuallyStopped) continue; // a technician stopped it meanwhile
        // This run replaces any failure still reported for the old one (stale by generation now).
        c.pendingFailure = false;
        c.desiredUp = true;
        c.dueAt = 0;
        c.startReason = c === named ? `restarted by ${by}` : `restarted after ${named.id} (${this.spec.strategy}, by ${by})`;
      }
    });
    this.scheduleReconcile(0);
  }

  /** More than `intensity` restarts in `period`: stop everything, then fail upwards. */
  private async escalate(child: TreeNode, f: Failure): Promise<void> {
    const reason = `more than ${this.spec.intensity} restarts in ${this.spec.periodMs}ms (last: ${child.id}: ${f.reason})`;
    this.host.emit({ type: 'escalation', child: this.id, reason, data: { failedChild: child.id, intensity: this.spec.intensity, periodMs: this.spec.periodMs } });
    const ranForMs = this.ranFor();
    this.generation++;
    this.cancelTimers();
    this.setState('stopping', reason);
    // A root with on_give_up: stop_failed stops only the child past its intensity: the healthy ones
    // keep serving (the dashboard shows the alarm, working cameras keep recording), unsupervised,
    // until a technician starts the root again. Otherwise every child stops, as in OTP.
    const onlyFailed = !this.parent && this.spec.onGiveUp === 'stop_failed';
    if (onlyFailed) await child.stop(`supervisor ${this.id} is giving up`, 'stopped');
    else await this.stopChildren(`supervisor ${this.id} is giving up`);
    this.startedAt = null;
    if (this.parent) {
      this.pendingFailure = true;
      this.setState('failed', reason);
      this.parent.childFailed(this, {
        cause: 'escalation',
        ranForMs,
        generation: this.generation,
        normal: false,
        reason: `supervisor ${this.id} gave up: ${reason}`,
        data: { intensity: this.spec.intensity, periodMs: this.spec.periodMs, failedChild: child.id },
      });
    } else {
      this.setState('gave_up', reason);
      this.host.emit({ type: 'alarm', child: this.id, reason: `the tree gave up: ${reason}. ${onlyFailed ? `${child.id} is stopped; the others keep running unsupervised` : 'Every child is stopped'}; the API keeps serving. Start ${this.id} again once the cause is fixed.` });
    }
  }

  private async stopChildren(reason: string): Promise<void> {
    for (const c of [...this.children].reverse()) {
      await c.stop(reason, 'stopped');
    }
  }

  private scheduleReconcile(at: number): void {
    const run = () => this.queue.run(() => this.reconcile()).catch((err) => this.host.onInternalError(err));
    const delay = at - this.host.now();
    if (delay <= 0) {
      void run();
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      void run();
    }, delay);
    this.timers.add(t);
  }

  private cancelTimers(): void {
    for (const t of this.timers) clearTimeout(t);
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
