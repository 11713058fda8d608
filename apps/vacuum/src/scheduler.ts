/**
 * The schedule (croner): runs at `schedule`, and a tick every `tick` that samples the volumes and
 * sets vacuum_scheduler_alive_timestamp_seconds. That gauge is what the tree's staleness probe
 * watches: it proves the timers still fire, which is what a restart can fix (a stopped scheduler
 * serves /healthz happily and never runs again). A due run while one is going is skipped, counted
 * (vacuum_runs_skipped_total) and recorded as an event.
 */
import { Cron } from 'croner';
import type { VacuumConfig } from './config.ts';
import type { VacuumMetrics } from './metrics.ts';
import type { StateDb } from './state-db.ts';
import type { Vacuum } from './vacuum.ts';

export interface Scheduler {
  /** Unix ms of the last tick. */
  lastTick(): number;
  nextRun(): number | null;
  skipped(): number;
  stop(): void;
}

/** A croner pattern for a tick that divides a minute (seconds field) or an hour (minutes field). */
function tickPattern(ms: number): string {
  return ms < 60_000 ? `*/${ms / 1000} * * * * *` : `0 */${ms / 60_000} * * * *`;
}

export function startScheduler(cfg: VacuumConfig, vacuum: Vacuum, state: StateDb, metrics: VacuumMetrics): Scheduler {
  let lastTick = 0;
  let skipped = 0;
  const onTick = async () => {
    lastTick = Date.now();
    metrics.schedulerAlive.set(lastTick / 1000);
    await vacuum.tick();
  };
  const runDue = (trigger: 'schedule' | 'start') => {
    if (vacuum.isRunning()) {
      skipped++;
      metrics.skipped.inc();
      state.record({ type: 'run_skipped', level: 'info', message: `scheduled run skipped: the previous run was still going (${skipped} skipped since start)` });
      return;
    }
    void vacuum.run({ trigger });
  };
  const opts = cfg.timezone ? { timezone: cfg.timezone } : {};
  const tick = new Cron(tickPattern(cfg.tickMs), { ...opts, catch: true }, onTick);
  const job = new Cron(cfg.schedule, { ...opts, catch: true }, () => runDue('schedule'));
  const timers: NodeJS.Timeout[] = [];
  void onTick();
  // Shortly after start, not at once: the supervisor's startup probes get the first answers.
  if (cfg.runAtStart) timers.push(setTimeout(() => runDue('start'), 1000));
  const fp = cfg.failpoint;
  if (fp?.kind === 'freeze-scheduler') {
    timers.push(setTimeout(() => {
      process.stderr.write('VACUUM_FAILPOINT freeze-scheduler: scheduler stopped\n');
      tick.stop();
      job.stop();
    }, fp.afterMs));
  }
  return {
    lastTick: () => lastTick,
    nextRun: () => job.nextRun()?.getTime() ?? null,
    skipped: () => skipped,
    stop() {
      tick.stop();
      job.stop();
      for (const t of timers) clearTimeout(t);
    },
  };
}
