/** The vacuum's Prometheus metrics (registered on the app server's registry). Labels carry volume names and kinds, never paths. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { KINDS, REASONS } from './report.ts';

export function createVacuumMetrics(registry: Registry) {
  const registers = [registry];
  const m = {
    lastSuccess: new Gauge({ name: 'vacuum_last_success_timestamp_seconds', help: 'Unix time (s) the last real run finished without error; 0 before the first one in this process', registers }),
    schedulerAlive: new Gauge({ name: 'vacuum_scheduler_alive_timestamp_seconds', help: 'Unix time (s) of the scheduler\'s last tick (every `tick`, default 1 min): stops when the scheduler stops', registers }),
    runs: new Counter({ name: 'vacuum_runs_total', help: 'Runs by result (success, failed) and mode (real, dry)', labelNames: ['result', 'mode'], registers }),
    skipped: new Counter({ name: 'vacuum_runs_skipped_total', help: 'Scheduled runs skipped because a run was still going', registers }),
    running: new Gauge({ name: 'vacuum_running', help: '1 while a run is going', registers }),
    duration: new Histogram({ name: 'vacuum_run_duration_seconds', help: 'Duration of runs (real and dry)', labelNames: ['mode'], buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600], registers }),
    items: new Counter({ name: 'vacuum_deleted_items_total', help: 'Items deleted by kind (safety_events, safety_snapshots, supervisor_events, app_logs) and reason (retention, watermark, orphan)', labelNames: ['kind', 'reason'], registers }),
    bytes: new Counter({ name: 'vacuum_deleted_bytes_total', help: 'Bytes deleted by kind and reason (files: on disk; rows: payload)', labelNames: ['kind', 'reason'], registers }),
    repaired: new Counter({ name: 'vacuum_repaired_rows_total', help: 'Event rows whose snapshot file was gone, kept and marked', registers }),
    free: new Gauge({ name: 'vacuum_volume_free_bytes', help: 'Free bytes on each data volume (statfs bavail)', labelNames: ['volume'], registers }),
    size: new Gauge({ name: 'vacuum_volume_size_bytes', help: 'Size of each data volume', labelNames: ['volume'], registers }),
    rate: new Gauge({ name: 'vacuum_volume_write_rate_bytes_per_hour', help: 'Measured write rate on each volume (NaN until a few minutes of samples)', labelNames: ['volume'], registers }),
    hoursLeft: new Gauge({ name: 'vacuum_volume_hours_left', help: 'Hours until the volume is full at the measured rate (+Inf when nothing is written, NaN when unknown)', labelNames: ['volume'], registers }),
    alarm: new Gauge({ name: 'vacuum_alarm', help: '1 when the volume is below its floor and only pinned events or the newest-N floor are left', labelNames: ['volume'], registers }),
    stateErrors: new Gauge({ name: 'vacuum_state_write_errors_total', help: 'Failed writes to the vacuum\'s own database (events are kept in memory then)', registers }),
  };
  // Every series exists from the start at 0: a dashboard or an alert on a rate sees a flat line,
  // not a missing series, until the first deletion of that kind.
  for (const kind of KINDS) for (const reason of REASONS) { m.items.labels({ kind, reason }).inc(0); m.bytes.labels({ kind, reason }).inc(0); }
  for (const result of ['success', 'failed']) for (const mode of ['real', 'dry']) m.runs.labels({ result, mode }).inc(0);
  return m;
}

export type VacuumMetrics = ReturnType<typeof createVacuumMetrics>;
