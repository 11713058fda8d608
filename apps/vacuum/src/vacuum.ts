/**
 * One vacuum: runs (real or dry), one at a time, and the volume samples between runs.
 *
 * A run, in this order:
 * 1. statfs every volume (the watermark decides on these numbers plus what this run frees, so a
 *    dry run and the real run after it make the same decisions);
 * 2. safety events: finish the journal of an interrupted run, then retention; the supervisor's
 *    log and app logs: retention;
 * 3. the orphan sweep (files without rows, rows without files);
 * 4. per volume below its floor: the oldest deletable safety events until floor + margin is free;
 *    an alarm event when only pinned events and the newest-N floor are left;
 * 5. checkpoint + incremental_vacuum of every database touched, then statfs again.
 */
import { AppError } from '../../common/src/index.ts';
import type { VacuumFileConfig } from './config.ts';
import type { Failpoint } from './failpoint.ts';
import type { VacuumMetrics } from './metrics.ts';
import { humanBytes, publicError, Tally, type RunReport, type VolumeReport } from './report.ts';
import { appLogsRetention } from './sources/app-logs.ts';
import { createPacer } from './sources/pacer.ts';
import { openSafetySource, type RunCtx, type SafetySource } from './sources/safety-events.ts';
import { openSupervisorSource, type SupervisorSource } from './sources/supervisor-events.ts';
import type { StateDb } from './state-db.ts';
import { floorBytes, hoursLeft, marginBytes, RATE_WINDOW_MS, statVolume, writeRate, type VolumeStat } from './volumes.ts';

/** Live state of a volume (GET /volumes, the gauges). */
export interface VolumeStatus {
  name: string;
  sizeBytes: number;
  freeBytes: number;
  floorBytes: number | null;
  writeRateBytesPerHour: number | null;
  hoursLeft: number | null;
  alarm: boolean;
  at: number;
}

export interface RunOptions { dryRun?: boolean; trigger?: RunReport['trigger'] }

export interface Vacuum {
  /** Runs now; rejects with VACUUM_ERR_RUN_IN_PROGRESS when a run is going. */
  run(opts?: RunOptions): Promise<RunReport>;
  isRunning(): boolean;
  /** Samples every volume (the write rate) and refreshes the volume gauges. */
  tick(): Promise<void>;
  volumes(): VolumeStatus[];
  /** The last reports, newest last (kept in memory: the events carry the summary across restarts). */
  reports(): readonly RunReport[];
  /** Unix ms of the last successful real run in this process, 0 before. */
  lastSuccess(): number;
  /** Makes a run in progress stop at its next batch boundary (shutdown); resolves when none runs. */
  stop(timeoutMs: number): Promise<void>;
}

export interface VacuumDeps {
  state: StateDb;
  metrics?: VacuumMetrics;
  failpoint?: Failpoint | null;
  now?: () => number;
  /** Tests only: see RunCtx.beforeDelete. */
  beforeDelete?: RunCtx['beforeDelete'];
}

/** Error code of an on-demand run refused because one is going. */
export const RUN_IN_PROGRESS = 'VACUUM_ERR_RUN_IN_PROGRESS';

export function createVacuum(cfg: VacuumFileConfig, deps: VacuumDeps): Vacuum {
  const now = deps.now ?? Date.now;
  const { state, metrics } = deps;
  let running = false;
  let stopping = false;
  let nextId = 1;
  let lastOk = 0;
  const reports: RunReport[] = [];
  const status = new Map<string, VolumeStatus>();

  const rateOf = (name: string, t: number) => writeRate(state.samples(name, t - RATE_WINDOW_MS), t);

  const publish = (name: string, st: VolumeStat, t: number, alarm?: boolean) => {
    const v = cfg.volumes.find((x) => x.name === name)!;
    const rate = rateOf(name, t);
    const prev = status.get(name);
    const s: VolumeStatus = {
      name, sizeBytes: st.sizeBytes, freeBytes: st.freeBytes, at: t,
      floorBytes: v.watermark ? floorBytes(v.watermark, st.sizeBytes, rate) : null,
      writeRateBytesPerHour: rate, hoursLeft: hoursLeft(st.freeBytes, rate), alarm: alarm ?? prev?.alarm ?? false,
    };
    status.set(name, s);
    if (metrics) {
      metrics.free.set({ volume: name }, s.freeBytes);
      metrics.size.set({ volume: name }, s.sizeBytes);
      metrics.rate.set({ volume: name }, rate ?? NaN);
      metrics.hoursLeft.set({ volume: name }, rate === null ? NaN : rate > 0 ? s.hoursLeft! : Infinity);
      metrics.alarm.set({ volume: name }, s.alarm ? 1 : 0);
      metrics.stateErrors.set(state.writeErrors());
    }
    return s;
  };

  const sample = async (name: string, path: string, t: number): Promise<VolumeStat> => {
    const st = await statVolume(path);
    state.addSample(name, { ts: t, usedBytes: st.sizeBytes - st.freeBytes });
    return st;
  };

  async function execute(dryRun: boolean, report: RunReport): Promise<void> {
    const t0 = report.startedAt;
    const tally = new Tally();
    const ctx: RunCtx = {
      dryRun, now: t0, batchSize: cfg.batchSize, pauseMs: cfg.batchPauseMs, walTruncateBytes: cfg.walTruncateBytes, tally,
      pacer: createPacer(cfg.batchPauseMs, cfg.maxLockSharePercent, () => stopping), failpoint: dryRun ? null : deps.failpoint ?? null,
      beforeDelete: dryRun ? undefined : deps.beforeDelete,
    };
    const start = new Map<string, VolumeStat>();
    for (const v of cfg.volumes) start.set(v.name, dryRun ? await statVolume(v.path) : await sample(v.name, v.path, t0));
    let safety: SafetySource | null = null;
    let sup: SupervisorSource | null = null;
    try {
      if (cfg.safetyEvents) safety = openSafetySource(cfg.safetyEvents, ctx);
      if (cfg.supervisorEvents) sup = openSupervisorSource(cfg.supervisorEvents, ctx);
      if (safety) {
        report.finishedFromJournal = await safety.finishJournal();
        if (report.finishedFromJournal && !dryRun) state.record({ type: 'journal', level: 'info', message: `finished ${report.finishedFromJournal} snapshot deletions an interrupted run had started`, data: { run: report.id } });
        await safety.retention();
      }
      if (sup) await sup.retention();
      for (const l of cfg.appLogs) appLogsRetention(l, ctx);
      if (safety) report.repairedRows = await safety.sweep();

      for (const v of cfg.volumes) {
        const st = start.get(v.name)!;
        const rate = rateOf(v.name, t0);
        const vr: VolumeReport = {
          name: v.name, sizeBytes: st.sizeBytes, freeBytesAtStart: st.freeBytes, freeBytes: st.freeBytes,
          floorBytes: null, writeRateBytesPerHour: rate, hoursLeft: hoursLeft(st.freeBytes, rate), watermark: 'none',
        };
        report.volumes.push(vr);
        if (!v.watermark) continue;
        const floor = floorBytes(v.watermark, st.sizeBytes, rate);
        vr.floorBytes = floor;
        const est = st.freeBytes + tally.freedOn(v.name);
        if (est >= floor) { vr.watermark = 'ok'; continue; }
        const need = floor + marginBytes(v.watermark, st.sizeBytes) - est;
        const canClean = safety && cfg.safetyEvents!.volume === v.name;
        const wm = canClean ? await safety!.watermark(need) : { count: 0, bytes: 0, exhausted: true };
        vr.watermark = wm.count > 0 ? 'cleaned' : 'exhausted';
        if (wm.count > 0 && !dryRun) {
          state.record({
            type: 'watermark', level: 'warning',
            message: `volume ${v.name} had ${humanBytes(est)} free, below its floor of ${humanBytes(floor)}: deleted the ${wm.count} oldest safety events with their snapshots (${humanBytes(wm.bytes)}, ${new Date(wm.oldestTs!).toISOString()} to ${new Date(wm.newestTs!).toISOString()})`,
            data: { run: report.id, volume: v.name, count: wm.count, bytes: wm.bytes, freeBytes: est, floorBytes: floor, oldestTs: wm.oldestTs, newestTs: wm.newestTs },
          });
        }
        if (est + wm.bytes < floor) {
          vr.watermark = 'exhausted';
          const msg = `volume ${v.name} is still below its floor (${humanBytes(est + wm.bytes)} free, floor ${humanBytes(floor)}) and only ${canClean ? `pinned events and the newest ${cfg.safetyEvents!.keepNewest}` : 'data the vacuum does not delete'} are left: free space by hand or unpin events`;
          report.alarms.push(msg);
          if (!dryRun) state.record({ type: 'alarm', level: 'alarm', message: msg, data: { run: report.id, volume: v.name, freeBytes: est + wm.bytes, floorBytes: floor } });
        }
      }
      if (!dryRun) {
        await safety?.maintain();
        await sup?.maintain();
      }
    } finally {
      safety?.close();
      sup?.close();
      report.deleted = tally.entries();
    }
    const end = now();
    for (const vr of report.volumes) {
      const v = cfg.volumes.find((x) => x.name === vr.name)!;
      if (!dryRun) {
        const st = await sample(v.name, v.path, end);
        vr.freeBytes = st.freeBytes;
        publish(v.name, st, end, vr.watermark === 'exhausted');
      }
    }
  }

  function summary(r: RunReport): string {
    const parts = r.deleted.map((d) => `${d.count} ${d.kind.replace('_', ' ')} (${d.reason}, ${humanBytes(d.bytes)})`);
    const vols = r.volumes.map((v) => `${v.name} ${humanBytes(v.freeBytes)} free${v.hoursLeft !== null ? ` (${v.hoursLeft.toFixed(0)} h left)` : ''}`);
    const what = parts.length ? `${r.dryRun ? 'would delete' : 'deleted'} ${parts.join(', ')}` : `${r.dryRun ? 'would delete' : 'deleted'} nothing`;
    return `${r.dryRun ? 'dry run' : 'run'} ${r.id} (${r.trigger}, ${(r.durationMs / 1000).toFixed(1)} s): ${what}${r.repairedRows ? `; ${r.repairedRows} events had lost their snapshot file (kept, marked)` : ''}; ${vols.join(', ')}`;
  }

  return {
    async run(opts = {}) {
      if (running) throw new AppError(RUN_IN_PROGRESS, 'a vacuum run is already going; try again when it has finished');
      running = true;
      metrics?.running.set(1);
      const dryRun = opts.dryRun ?? false;
      const report: RunReport = {
        id: nextId++, trigger: opts.trigger ?? 'api', dryRun, startedAt: now(), finishedAt: 0, durationMs: 0, ok: true,
        deleted: [], repairedRows: 0, finishedFromJournal: 0, volumes: [], alarms: [],
      };
      try {
        await execute(dryRun, report);
      } catch (err) {
        report.ok = false;
        report.error = publicError(err);
      } finally {
        running = false;
        metrics?.running.set(0);
      }
      report.finishedAt = now();
      report.durationMs = report.finishedAt - report.startedAt;
      reports.push(report);
      if (reports.length > 50) reports.shift();
      const mode = dryRun ? 'dry' : 'real';
      metrics?.runs.inc({ result: report.ok ? 'success' : 'failed', mode });
      metrics?.duration.observe({ mode }, report.durationMs / 1000);
      if (!dryRun) {
        for (const d of report.deleted) {
          metrics?.items.inc({ kind: d.kind, reason: d.reason }, d.count);
          metrics?.bytes.inc({ kind: d.kind, reason: d.reason }, d.bytes);
        }
        metrics?.repaired.inc(report.repairedRows);
      }
      if (report.ok) {
        if (!dryRun) {
          lastOk = report.finishedAt;
          metrics?.lastSuccess.set(lastOk / 1000);
        }
        state.record({ type: 'run', level: 'info', message: summary(report), data: { run: report.id, trigger: report.trigger, dryRun, durationMs: report.durationMs, deleted: report.deleted, repairedRows: report.repairedRows } });
      } else {
        state.record({ type: 'run_failed', level: 'warning', message: `${dryRun ? 'dry run' : 'run'} ${report.id} failed after ${(report.durationMs / 1000).toFixed(1)} s: [${report.error!.code}] ${report.error!.message}`, data: { run: report.id, error: report.error, deleted: report.deleted } });
      }
      return report;
    },
    isRunning: () => running,
    async tick() {
      const t = now();
      for (const v of cfg.volumes) {
        try { publish(v.name, await sample(v.name, v.path, t), t); } catch { /* a missing volume shows on /healthz */ }
      }
    },
    volumes: () => cfg.volumes.map((v) => status.get(v.name)).filter((s): s is VolumeStatus => s !== undefined),
    reports: () => reports,
    lastSuccess: () => lastOk,
    async stop(timeoutMs) {
      stopping = true;
      for (const end = Date.now() + timeoutMs; running && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
    },
  };
}
