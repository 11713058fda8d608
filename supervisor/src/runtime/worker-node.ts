import { isUp } from '../core/lifecycle.ts';
import { countProbe, freshCounter, type ProbeCounter } from '../core/probe-verdict.ts';
import { shouldRestart, type FailureCause } from '../core/strategy.ts';
import { EdgevisorError, codes } from '../errors.ts';
import type { ExitInfo, Unit } from '../backends/types.ts';
import { backendKey } from '../backends/registry.ts';
import { inProcessGroup, NotifyWatch } from './notify-watch.ts';
import type { ProbeSpec, WorkerLifecycleSpec, WorkerSpec } from '../spec/types.ts';
import type { ProbeResult } from '../probes/types.ts';
import { releaseProbeMemory } from '../probes/index.ts';
import type { ChildSnapshot, ProbeStatus } from './types.ts';
import { TreeNode, type NodeHost, type ParentLink } from './node.ts';
import type { TimerHandle } from './clock.ts';
import { TREE_DEFAULTS } from '../spec/load.ts';
import { formatDuration } from '../spec/duration.ts';
import { WorkerStateWatch } from './worker-state-watch.ts';
import { assertDeclaredState } from '../spec/worker-lifecycle.ts';
import { restartReasonWords } from '../core/reason-words.ts';

/** How often a probe is retried while a freshly started child has not answered yet. */
const STARTUP_RETRY_MS = 100;

interface ProbeRun {
  spec: ProbeSpec;
  counter: ProbeCounter;
  memory: Record<string, unknown>;
  status: ProbeStatus;
  timer: TimerHandle | null;
  /** The wall-clock slot the next steady-state run is scheduled for (0 = not in steady state). */
  due: number;
}

export function describeExit(exit: ExitInfo): string {
  if (exit.oom) return `killed by the OOM killer (exit code ${exit.code ?? '?'})`;
  if (exit.error) return `exited with error: ${exit.error}`;
  if (exit.signal) return `killed by ${exit.signal}`;
  return `exited with code ${exit.code ?? '?'}`;
}

/**
 * A leaf of the tree: one Unit (process, container, in-process worker) plus its probes.
 * It reports failures to its parent supervisor, which alone decides restarts.
 */
export class WorkerNode extends TreeNode {
  declare readonly spec: WorkerSpec;
  readonly unit: Unit;
  private probes = new Map<string, ProbeRun>();
  private heartbeatTimer: TimerHandle | null = null;
  /** Aborted when the node stops probing: calls off every run in flight. */
  private probeAbort: AbortController | null = null;
  /** The unit's start of the latest launch and what follows it (startUnit); settled once that start is over. */
  private startTask: Promise<void> | null = null;
  /** Set while we are stopping the unit ourselves: its exit is then expected, not a crash. */
  private stopping: Promise<void> | null = null;
  private adoptable = true;
  /** The current run stopped answering (a probe timed out, the heartbeat stopped): see hungShutdown. */
  private hung = false;
  /** sd_notify (spec.notify): NOTIFY_SOCKET, READY=1, the watchdog. */
  private readonly notify: NotifyWatch | null = null;
  /** A typed worker's own states and deadlines (spec.lifecycle, or adopted from its module), null for an untyped one. */
  private states: WorkerStateWatch | null = null;
  private lifecycle: WorkerLifecycleSpec | undefined;

  constructor(spec: WorkerSpec, parent: ParentLink, host: NodeHost) {
    super(spec, parent, host);
    const kind = backendKey(spec.backend);
    const factory = host.backends[kind];
    if (!factory) {
      const custom = spec.backend.kind === 'custom' ? ' (register it with registerBackend before building the tree)' : '';
      throw new EdgevisorError(codes.START_FAILED, `child ${spec.id}: no ${kind} backend is available in this supervisor${custom}`);
    }
    if (spec.notify) {
      this.notify = new NotifyWatch(
        spec.notify,
        {
          clock: host.clock,
          // The run's processes (the unit's rule, else the process group); notify.access narrows it in NotifyWatch.
          accept: (pid) => {
            if (!isUp(this.state)) return null;
            return this.unit.notifySender ? this.unit.notifySender(pid) : inProcessGroup(pid, this.unit.info().pid as number | undefined);
          },
          mainPid: () => this.unit.info().pid as number | undefined,
          onReady: () => {
            // startedAt is set once the run's probes are set up: before that the probe map is the last run's.
            if (this.state === 'starting' && this.startedAt !== null && this.probesPassedOnce()) this.becameRunning('READY=1');
          },
          onHung: (reason, data) => this.turnedUnhealthy('heartbeat', reason, data),
        },
        factory.notifySocket?.(spec),
      );
    }
    if (spec.lifecycle) this.adoptWorkerLifecycle(spec.lifecycle);
    this.unit = factory(spec, {
      baseDir: host.baseDir,
      clock: host.clock,
      extraEnv: this.notify?.env(),
      pidEnv: this.notify?.pidEnv(),
      reportWorkerState: (state) => this.reportWorkerState(state),
      adoptWorkerLifecycle: (lifecycle) => {
        if (this.lifecycle) return;
        this.adoptWorkerLifecycle(lifecycle);
        if (this.state === 'starting') this.states!.begin(); // the run that loaded it begins now
      },
    });
    this.unit.onExit((exit) => this.onExit(exit));
    // States a unit emits (rather than reporting them through the context; a thread posts them
    // over its port): same door, but an event listener must not throw, so an undeclared state is
    // dropped here.
    this.unit.onWorkerState?.((state) => {
      if (this.lifecycle?.states.includes(state)) this.reportWorkerState(state);
    });
  }

  /**
   * A typed worker's own state, reported by its unit (BackendContext.reportWorkerState). Throws
   * EDGEVISOR_ERR_UNDECLARED_STATE for an undeclared state; ignored while the node is not up.
   */
  reportWorkerState(state: string): void {
    assertDeclaredState(this.lifecycle, state, this.id);
    if (this.state !== 'starting' && this.state !== 'running') return;
    this.states!.report(state);
  }

  private adoptWorkerLifecycle(lifecycle: WorkerLifecycleSpec): void {
    this.lifecycle = lifecycle;
    this.states = new WorkerStateWatch({
      id: this.spec.id,
      lifecycle,
      host: this.host,
      lastHeartbeat: () => this.unit.lastHeartbeat?.() ?? 0,
      onViolation: (_v, facts) => this.turnedUnhealthy('deadline', restartReasonWords({ cause: 'deadline', ...facts }), facts),
    });
  }

  /**
   * Leaves the node `starting` and returns: the unit's own start runs on (startUnit), bounded by
   * `start_timeout`, so the parent's queue is not held by a start that never finishes. Only the
   * adoption check (a container, first start only, bounded by docker.timeout) is awaited here.
   */
  async launch(reason: string): Promise<number> {
    let adopted = false;
    if (this.adoptable && this.unit.adopt) {
      // A unit that outlived a previous supervisor (a container) is adopted, not restarted.
      adopted = (await this.unit.adopt().catch(() => 'absent' as const)) === 'running';
    }
    this.adoptable = false;
    const gen = ++this.generation;
    this.pendingFailure = false;
    this.hung = false;
    this.setState('starting', adopted ? 'adopted the running unit without restarting it' : reason);
    // Before start(): an inproc worker runs its first lines (and may report a state) inside it,
    // and a child may say READY=1 before start() resolves.
    this.states?.begin();
    this.notify?.begin({ adopted });
    this.startTask = this.startUnit(gen, adopted).catch((err) => this.host.onInternalError(err));
    return gen;
  }

  /** The unit's start for run `gen`, then its probes; a failed or timed-out start goes down as start_failed. */
  private async startUnit(gen: number, adopted: boolean): Promise<void> {
    try {
      if (!adopted) await this.boundedStart(gen);
    } catch (err) {
      if (gen === this.generation) this.states?.halt();
      this.notify?.end();
      if (gen === this.generation && this.state === 'starting') {
        const data: Record<string, unknown> = { error: (err as Error).message };
        if ((err as EdgevisorError).code === codes.START_TIMEOUT) data.startTimeoutMs = this.startTimeoutMs;
        this.wentDown('start_failed', false, `start failed: ${(err as Error).message}`, data);
      }
      return;
    }
    if (gen !== this.generation) {
      // Stopped while this start was in flight, and the unit came up anyway (a spawn or a container
      // start that could not be called off): stop that run too (stop() waits for this).
      await this.unit.stop(this.spec.shutdown);
      return;
    }
    if (this.state !== 'starting') return;
    this.startedAt = this.host.now();
    this.startProbes(gen);
    if (this.spec.probes.length === 0 && this.isReady()) this.becameRunning('started');
  }

  private get startTimeoutMs(): number {
    return this.spec.startTimeoutMs ?? TREE_DEFAULTS.startTimeoutMs;
  }

  /**
   * unit.start(), given `start_timeout` on the tree's clock. Past it the start is ended with
   * brutal_kill (a thread is terminated, an inproc import abandoned: backends/types.ts) and this
   * rejects START_TIMEOUT. While that kill runs, `stopping` is set, so an exit it causes (a run
   * that came up just then) is taken as asked for, not as a crash reported twice.
   */
  private async boundedStart(gen: number): Promise<void> {
    const limit = this.startTimeoutMs;
    const started = this.unit.start();
    let timer: TimerHandle | undefined;
    const expired = new Promise<'expired'>((res) => (timer = this.host.clock.setTimeout(() => res('expired'), limit)));
    try {
      if ((await Promise.race([started.then(() => 'started' as const), expired])) === 'started') return;
    } finally {
      this.host.clock.clearTimeout(timer);
    }
    started.catch(() => undefined); // ended by the kill below: its rejection is expected
    if (gen === this.generation && this.state === 'starting' && !this.stopping) {
      this.stopping = this.unit.stop({ kind: 'brutal_kill' }).catch((err) => this.host.onInternalError(err));
      await this.stopping;
      this.stopping = null;
    }
    throw new EdgevisorError(codes.START_TIMEOUT, `the start did not finish within ${formatDuration(limit)} (start_timeout); ended with brutal_kill`);
  }

  async stop(reason: string, next: 'stopped' | 'backoff' | 'failed'): Promise<void> {
    if (this.stopping) await this.stopping;
    if (!isUp(this.state)) {
      if (this.state !== next) this.setState(next, reason);
      return;
    }
    this.generation++;
    this.stopProbes();
    // A hung unit cannot run its shutdown handler: by default it is killed rather than waited for.
    const how = this.hung ? this.spec.hungShutdown : this.spec.shutdown;
    this.setState('stopping', reason, { shutdown: how.kind === 'brutal_kill' ? 'brutal_kill' : `${how.graceMs}ms`, hung: this.hung });
    // A start in flight settles too (ended by this stop, or up and then stopped by startUnit):
    // nothing of it may come up after the node has left, nor overlap the next start.
    const startTask = this.startTask;
    this.stopping = this.unit
      .stop(how)
      .then(() => startTask ?? undefined)
      .catch((err) => this.host.onInternalError(err));
    await this.stopping;
    this.stopping = null;
    this.startedAt = null;
    this.setState(next, reason);
  }

  /**
   * Stops supervising a unit that a later supervisor can adopt (a container), leaving it running:
   * no more probes, and its exit is no longer acted on. Units that cannot be adopted are untouched
   * here (the tree then stops them as usual).
   */
  letGo(reason: string): void {
    // A unit being stopped (a restart in flight) is left to finish that stop.
    if (!this.unit.adopt || !isUp(this.state) || this.state === 'stopping') return;
    this.generation++;
    this.stopProbes();
    this.desiredUp = false;
    this.setState('stopped', `${reason}: left running; the next supervisor adopts it`, { leftRunning: true });
  }

  async close(): Promise<void> {
    this.stopProbes();
    this.notify?.close();
    await this.unit.close();
  }

  logs(n?: number): string[] {
    return this.unit.logs(n);
  }

  /** The unit's output (a container's own log for Docker), else the backend's ring. */
  async output(n: number, signal: AbortSignal): Promise<string[]> {
    return this.unit.output ? this.unit.output(n, signal) : this.unit.logs(n);
  }

  snapshot(): ChildSnapshot {
    return {
      ...this.baseSnapshot(),
      type: 'worker',
      backend: this.spec.backend.kind,
      probes: this.spec.probes.map((p) => this.probes.get(p.name)?.status ?? idleStatus(p)),
      info: this.unit.info(),
      ...(this.notify ? { notify: this.notify.status() } : {}),
      ...(isUp(this.state) ? this.states?.current() : undefined),
    };
  }

  /** Startup is over (probes passed once, READY=1 if asked for): the watchdog starts. */
  private becameRunning(reason: string): void {
    this.setState('running', reason);
    this.notify?.arm();
  }

  /** A `notify.ready` child is ready once it sent READY=1; every other child is. */
  private isReady(): boolean {
    return this.notify?.ready ?? true;
  }

  private probesPassedOnce(): boolean {
    return [...this.probes.values()].every((p) => p.counter.passedOnce);
  }

  private onExit(exit: ExitInfo): void {
    this.host.emit({ type: 'exit', child: this.id, reason: describeExit(exit), data: { ...exit } });
    if (this.stopping || !isUp(this.state)) return; // an exit we asked for, or a stale one
    this.stopProbes();
    this.startedAt = null;
    if (this.pendingFailure) return; // already reported unhealthy: the supervisor is on it
    this.wentDown('exit', exit.normal, describeExit(exit), { exitCode: exit.code, signal: exit.signal, oom: exit.oom ?? false, error: exit.error });
  }

  /** The unit is gone on its own: settle the state from the restart type, tell the parent. */
  private wentDown(cause: FailureCause, normal: boolean, reason: string, data: Record<string, unknown>): void {
    const ranForMs = this.ranFor();
    if (shouldRestart(this.spec.restart, cause, normal)) {
      this.pendingFailure = true;
      this.setState('backoff', reason, data);
      this.parent!.childFailed(this, { cause, ranForMs, generation: this.generation, normal, reason, data });
    } else {
      this.desiredUp = false;
      this.setState(normal ? 'stopped' : 'failed', `${reason} (restart: ${this.spec.restart}, not restarted)`, data);
      this.parent!.childFailed(this, { cause, ranForMs, generation: this.generation, normal, reason, data });
    }
  }

  /** Alive but failing its probes or heartbeat: the parent restarts it like a crash. */
  private turnedUnhealthy(cause: 'probe' | 'heartbeat' | 'deadline', reason: string, data: Record<string, unknown>): void {
    if (this.state !== 'running' && this.state !== 'starting') return;
    const ranForMs = this.ranFor();
    this.stopProbes();
    this.pendingFailure = true;
    // No answer at all (timeout) or no heartbeat: the unit is wedged, not merely failing a check.
    this.hung = cause === 'heartbeat' || cause === 'deadline' || data.code === codes.PROBE_TIMEOUT;
    this.setState('unhealthy', reason, { ...data, hung: this.hung });
    this.parent!.childFailed(this, { cause, ranForMs, generation: this.generation, normal: false, reason, data });
  }

  private startProbes(gen: number): void {
    const startedAt = this.startedAt ?? this.host.now();
    this.probeAbort = new AbortController();
    for (const spec of this.spec.probes) {
      const run: ProbeRun = { spec, counter: freshCounter, memory: {}, status: idleStatus(spec), timer: null, due: 0 };
      this.probes.set(spec.name, run);
      // A timer callback must never reject: an unhandled rejection would end the supervisor.
      const guarded = () => void tick().catch((err) => this.host.onInternalError(err));
      const tick = async () => {
        run.timer = null;
        if (gen !== this.generation) return;
        const began = this.host.now();
        const result = await this.runOnce(run);
        if (gen !== this.generation) return;
        // The first period after a start is always grace: a process needs a moment to listen.
        const grace = Math.max(spec.startupGraceMs, spec.everyMs);
        const now = this.host.now();
        const { counter, verdict, changed } = countProbe(run.counter, result.ok, now, startedAt, { failures: spec.failures, startupGraceMs: grace });
        run.counter = counter;
        run.status = { ...run.status, ok: result.ok, consecutiveFailures: counter.consecutiveFailures, lastError: result.error, latencyMs: result.latencyMs, lastRunAt: now };
        if (changed) {
          this.host.emit({
            type: 'probe',
            child: this.id,
            reason: result.ok ? `probe ${spec.name} passed` : `probe ${spec.name} failed: ${result.error ?? 'failed'}`,
            data: { probe: spec.name, ok: result.ok, error: result.error, code: result.code, latencyMs: result.latencyMs, value: result.value },
          });
        }
        if (verdict === 'unhealthy') {
          this.turnedUnhealthy('probe', `probe ${spec.name} failed ${counter.consecutiveFailures} times: ${result.error ?? 'failed'}`, {
            probe: spec.name,
            error: result.error,
            code: result.code,
            // For the technician's words (core/reason-words.ts): "timed out 3 times in 3 s".
            probeKind: spec.check.kind,
            failures: counter.consecutiveFailures,
            everyMs: spec.everyMs,
          });
          return;
        }
        if (this.state === 'starting' && this.probesPassedOnce()) {
          if (this.isReady()) this.becameRunning('startup probes passed');
        }
        if (gen !== this.generation) return;
        // Fixed rate: a run that timed out does not push the next one back, so N failures take
        // N periods, not N x (period + timeout).
        const quick = !counter.passedOnce && now - startedAt < spec.everyMs;
        const period = quick ? Math.min(STARTUP_RETRY_MS, spec.everyMs) : spec.everyMs;
        const after = this.host.now();
        if (quick) {
          run.due = 0;
          run.timer = this.host.clock.setTimeout(guarded, Math.max(0, period - (after - began)));
        } else {
          run.due = nextProbeDue(run.due, began, after, period);
          run.timer = this.host.clock.setTimeout(guarded, Math.max(0, run.due - after));
        }
      };
      run.timer = this.host.clock.setTimeout(guarded, 0);
    }
    this.startHeartbeatWatch(gen);
  }

  /**
   * One probe run. The probe enforces its own timeout (runProbe never outlives it); the node's
   * abort signal only calls in-flight runs off when the node stops probing.
   */
  private async runOnce(run: ProbeRun): Promise<ProbeResult> {
    const t0 = performance.now();
    try {
      return await this.host.runProbe(run.spec.check, { unit: this.unit, memory: run.memory, now: this.host.now }, run.spec.timeoutMs, this.probeAbort!.signal);
    } catch (err) {
      return { ok: false, latencyMs: performance.now() - t0, error: `probe threw: ${(err as Error).message}` };
    }
  }

  private startHeartbeatWatch(gen: number): void {
    const b = this.spec.backend;
    if ((b.kind !== 'inproc' && b.kind !== 'thread') || b.heartbeatTimeoutMs <= 0 || !this.unit.lastHeartbeat) return;
    const limit = b.heartbeatTimeoutMs;
    const every = Math.max(10, Math.min(500, Math.floor(limit / 4)));
    this.heartbeatTimer = this.host.clock.setInterval(() => {
      if (gen !== this.generation) return;
      try {
        const age = this.host.now() - this.unit.lastHeartbeat!();
        if (age > limit) this.turnedUnhealthy('heartbeat', `no heartbeat for ${age}ms (heartbeat_timeout ${limit}ms)`, { ageMs: age, heartbeatTimeoutMs: limit });
      } catch (err) {
        this.host.onInternalError(err); // never out of a timer (see the probe ticks)
      }
    }, every);
    this.heartbeatTimer.unref?.();
    // An inproc worker with no probes is running as soon as launched; the heartbeat guards it.
  }

  private stopProbes(): void {
    for (const run of this.probes.values()) {
      if (run.timer) this.host.clock.clearTimeout(run.timer);
      run.timer = null;
      releaseProbeMemory(run.memory);
    }
    this.probeAbort?.abort();
    this.probeAbort = null;
    this.notify?.end();
    if (this.heartbeatTimer) this.host.clock.clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    this.states?.halt();
  }
}

/**
 * When the next steady-state run of a probe is due. Pure.
 *
 * Fixed rate: runs are due one period apart, whatever each run took, so a run that timed out does
 * not push the next one back (3 failures of a 1 s probe take 3 s, not 3 x (1 s + timeout)).
 * Coalesced: slots are multiples of the period (capped at 1 s) in wall-clock time, so all probes with
 * the same period wake the supervisor together instead of one by one; on a VM every wake-up is a trip
 * through the hypervisor (50 children probed every second were 50+ wake-ups a second). Only the
 * first steady-state run waits for its slot (less than one period). A run that overran its next slot
 * by a whole period or more resumes at the next slot from now instead of firing a burst.
 */
export function nextProbeDue(prevDue: number, began: number, now: number, periodMs: number): number {
  const slot = Math.max(1, Math.min(periodMs, 1000));
  const alignUp = (t: number) => Math.ceil(t / slot) * slot;
  let next = prevDue > 0 ? prevDue + periodMs : alignUp(began + periodMs);
  if (now - next >= periodMs) next = alignUp(now);
  return next;
}

function idleStatus(p: ProbeSpec): ProbeStatus {
  return { name: p.name, kind: p.check.kind, ok: null, consecutiveFailures: 0 };
}
