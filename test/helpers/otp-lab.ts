// The bench for the OTP supervisor_SUITE ports (test/unit/otp-supervisor-suite.test.ts,
// test/integration/otp-supervisor-shutdown.test.ts): a tree built through the public API only
// ('edgevisor'), with in-process workers the test drives like OTP's supervisor_1 children
// (`die`, `exit` normally, fail at start, ignore the stop), every event and every start/stop of
// a run recorded in order.
import assert from 'node:assert/strict';
import { createTree, defaultBackends, parseTreeObject, type ChildState, type InprocWorker, type Tree, type TreeEvent } from 'edgevisor';
import { waitFor } from './net.ts';

/** One run of an in-process worker. */
export interface Run {
  id: string;
  /** 1 for the first run of the child, 2 after its first restart... */
  n: number;
  /** Ends the run abnormally (OTP: `ChildPid ! die`). */
  die(message?: string): void;
  /** Ends the run normally (OTP: `ChildPid ! stop`, exit reason normal). */
  exit(): void;
  /** The supervisor asked it to stop (its signal was aborted). */
  stopped: boolean;
}

export interface WorkerOptions {
  /** The run fails as soon as it starts (OTP: a start function returning an error) when true. */
  failsAtStart?: (n: number) => boolean;
  /** Ignores the stop request: an in-process worker that never returns (is abandoned after its grace). */
  ignoreStop?: boolean;
}

/** Fast restarts: OTP retries at once; edgevisor's first restart is immediate, later ones back off. */
export const QUICK_BACKOFF = { initial: '1ms', max: '5ms', reset_after: '60s' } as const;

export class Lab {
  readonly runs = new Map<string, Run[]>();
  /** `start <id>`, `stop <id>` (stop requested), `fail <id>` (failed at start), in order. */
  readonly log: string[] = [];
  readonly events: TreeEvent[] = [];
  tree!: Tree;
  private readonly options = new Map<string, WorkerOptions>();

  /** An in-process worker for child `id`. */
  worker(id: string, opts: WorkerOptions = {}): InprocWorker {
    this.options.set(id, opts);
    return ({ signal }) => {
      const list = this.runs.get(id) ?? [];
      this.runs.set(id, list);
      const n = list.length + 1;
      this.log.push(`start ${id}`);
      return new Promise<void>((resolve, reject) => {
        const run: Run = { id, n, stopped: false, die: (m = `${id} died`) => reject(new Error(m)), exit: () => resolve() };
        list.push(run);
        if (this.options.get(id)?.failsAtStart?.(n)) {
          this.log.push(`fail ${id}`);
          reject(new Error(`${id} run ${n} failed to start`));
          return;
        }
        signal.addEventListener(
          'abort',
          () => {
            run.stopped = true;
            this.log.push(`stop ${id}`);
            if (!this.options.get(id)?.ignoreStop) resolve();
          },
          { once: true },
        );
      });
    };
  }

  /** Builds and starts the tree (a plain object as in a tree file; `run` functions for inproc children). */
  async start(obj: Record<string, unknown>, deps: { now?: () => number } = {}): Promise<Tree> {
    const spec = parseTreeObject({ version: 1, backoff: QUICK_BACKOFF, ...obj });
    this.tree = createTree(spec, { backends: defaultBackends(), onInternalError: (e) => assert.fail(`internal error: ${String(e)}`), ...deps });
    this.tree.onEvent((e) => this.events.push(e));
    await this.tree.start();
    return this.tree;
  }

  /** Runs of `id` so far. */
  count(id: string): number {
    return this.runs.get(id)?.length ?? 0;
  }

  /** The latest run of `id` (or run `n`). */
  run(id: string, n?: number): Run {
    const list = this.runs.get(id) ?? [];
    const r = n === undefined ? list.at(-1) : list[n - 1];
    assert.ok(r, `${id} has no run ${n ?? '(any)'}`);
    return r;
  }

  state(id: string): ChildState | undefined {
    return this.tree.child(id)?.state;
  }

  async until(what: string, cond: () => boolean, timeoutMs = 5_000): Promise<void> {
    await waitFor(what, cond, timeoutMs, 5);
  }

  async untilState(id: string, state: ChildState, timeoutMs = 5_000): Promise<void> {
    await this.until(`${id} ${state} (is ${this.state(id)})`, () => this.state(id) === state, timeoutMs);
  }

  /** Waits until `id` has had `n` runs and the latest is running. */
  async untilRun(id: string, n: number, timeoutMs = 5_000): Promise<void> {
    await this.until(`${id} run ${n} running (runs ${this.count(id)}, ${this.state(id)})`, () => this.count(id) >= n && this.state(id) === 'running', timeoutMs);
  }

  /** Events of a type (about a child). */
  of(type: TreeEvent['type'], child?: string): TreeEvent[] {
    return this.events.filter((e) => e.type === type && (child === undefined || e.child === child));
  }

  /** The log lines after the `i`-th entry. */
  logSince(i: number): string[] {
    return this.log.slice(i);
  }

  async close(): Promise<void> {
    await this.tree?.stop();
  }
}
