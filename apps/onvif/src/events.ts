/** What the service tells technicians: kept in memory (last 500) for GET /events, and logged. */
export interface OnvifEvent {
  seq: number;
  ts: string;
  type: 'camera_added' | 'camera_removed' | 'discovered' | 'discovery_run' | 'reachable' | 'unreachable' | 'auth_failed' | 'auth_method' | 'clock_drift' | 'address_rewritten' | 'stream_uri_changed' | 'store_permissions';
  camera?: string;
  message: string;
}

/** A JSON-lines log sink (stderr in main.ts; a test passes its own to search it). */
export type LogLine = (entry: Record<string, unknown>) => void;

export class EventLog {
  private seq = 0;
  private readonly ring: OnvifEvent[] = [];
  constructor(private readonly log: LogLine, private readonly max = 500) {}

  emit(type: OnvifEvent['type'], message: string, camera?: string): void {
    const e: OnvifEvent = { seq: ++this.seq, ts: new Date().toISOString(), type, ...(camera ? { camera } : {}), message };
    this.ring.push(e);
    if (this.ring.length > this.max) this.ring.shift();
    this.log({ level: type === 'auth_failed' || type === 'unreachable' || type === 'clock_drift' ? 'warn' : 'info', app: 'onvif', event: type, camera, msg: message });
  }

  since(seq: number): OnvifEvent[] { return this.ring.filter((e) => e.seq > seq); }
}
