import { AppError } from '../../common/src/index.ts';
import { addressId, deviceUrlFromDiscovery, endpointId, hostPort, parseAddress } from './address.ts';
import { CameraStore } from './credentials.ts';
import { deadline } from '../../common/src/deadline.ts';
import { describe, getStreamUri, type Description, type Profile, type Rewrite } from './device.ts';
import { discover, type DiscoveryRun } from './discovery.ts';
import { OnvifError, onvifErrors } from './errors.ts';
import type { EventLog } from './events.ts';
import type { OnvifMetrics } from './metrics.ts';
import type { OnvifConfig } from './config.ts';
import type { AuthState, Credentials } from './soap.ts';

/**
 * The cameras the service knows, each refreshed on its own timer (so one hung camera never
 * delays another: it only holds its own timer, and every request it makes has a deadline).
 *
 * Status: `pending` (never answered yet), `ok`, `auth_failed` (answered, refused the
 * credentials), `unreachable` (no answer within the timeout, or connection refused), `error`
 * (answered with something unusable). Failures back off: backoffMs, doubled per failure, up to
 * maxBackoffMs; an answer resets it.
 * INVARIANT: `auth.credentials` never leaves this module except into soap.ts requests; view()
 * builds every answer field by field.
 */
export type CameraStatus = 'pending' | 'ok' | 'auth_failed' | 'unreachable' | 'error';

interface Entry {
  id: string;
  deviceUrl: URL;
  endpointReference?: string;
  scopes: string[];
  discovered: boolean;
  configured: boolean;
  auth: AuthState;
  credentialsFrom: 'camera' | 'default' | 'none';
  status: CameraStatus;
  lastError?: { code: string; operation: string; message: string; at: string };
  lastAttemptAt?: string;
  lastOkAt?: string;
  nextRefreshAt?: number;
  failures: number;
  description?: Description;
  discoveryRewrite?: Rewrite;
  timer?: NodeJS.Timeout;
  running?: Promise<void>;
  removed: boolean;
}

/** A camera as the API shows it (no credentials, ever). */
export interface CameraView {
  id: string;
  address: string;
  deviceUrl: string;
  endpointReference: string | null;
  source: 'discovery' | 'configured' | 'both';
  scopes: string[];
  status: CameraStatus;
  reachable: boolean;
  credentials: 'camera' | 'default' | 'none';
  auth: 'ws-security' | 'http-digest' | null;
  drift: { seconds: number; warning: boolean } | null;
  device: Description['device'] | null;
  profiles: Profile[];
  rewrites: Rewrite[];
  lastError: Entry['lastError'] | null;
  lastAttemptAt: string | null;
  lastOkAt: string | null;
  nextRefreshAt: string | null;
}

export class CameraRegistry {
  private readonly entries = new Map<string, Entry>();
  private discovery?: Promise<DiscoveryRun>;
  private discoveryTimer?: NodeJS.Timeout;
  private readonly stopping = new AbortController();
  /** Until the run at start has finished: the cameras it finds (not stored) are not listed yet. */
  private firstRunPending = false;

  constructor(private readonly cfg: OnvifConfig, private readonly store: CameraStore, private readonly events: EventLog, private readonly metrics: OnvifMetrics) {}

  /** Loads the store, starts a refresh per stored camera and the discovery schedule. */
  start(): void {
    this.store.load();
    if (this.store.loosePermissions) this.events.emit('store_permissions', 'the camera store was readable by others: set back to 0600');
    for (const c of this.store.cameras()) this.addEntry(c.id, parseAddress(c.address), { configured: true });
    if (this.cfg.discoveryEnabled && this.cfg.discoveryIntervalMs > 0) {
      this.firstRunPending = true;
      const loop = (trigger: string) => {
        void this.runDiscovery(trigger).catch(() => {}).finally(() => {
          this.firstRunPending = false;
          if (!this.stopping.signal.aborted) this.discoveryTimer = setTimeout(() => loop('schedule'), this.cfg.discoveryIntervalMs).unref();
        });
      };
      loop('start');
    }
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    clearTimeout(this.discoveryTimer);
    for (const e of this.entries.values()) clearTimeout(e.timer);
    await Promise.allSettled([...this.entries.values()].map((e) => e.running));
  }

  counts(): { known: number; reachable: number } {
    let reachable = 0;
    for (const e of this.entries.values()) if (isReachable(e.status)) reachable++;
    return { known: this.entries.size, reachable };
  }

  list(): CameraView[] { return [...this.entries.values()].map((e) => this.view(e)); }

  /**
   * True while the discovery run at start has not finished (failed runs count as finished): the
   * list lacks the cameras only WS-Discovery knows (they are not stored), so a client must not
   * read a camera missing from it as deleted (GET /cameras `partial`).
   */
  partial(): boolean { return this.firstRunPending; }

  get(id: string): CameraView {
    return this.view(this.entry(id));
  }

  /** Adds (or updates the credentials of) a camera by address, and refreshes it now. */
  async add(address: string, credentials?: Credentials): Promise<CameraView> {
    const url = parseAddress(address);
    const existing = [...this.entries.values()].find((e) => hostPort(e.deviceUrl) === hostPort(url));
    const id = existing?.id ?? addressId(url);
    this.store.put({ id, address: url.toString(), ...(credentials ? { credentials } : {}) });
    const e = existing ?? this.addEntry(id, url, { configured: true });
    e.configured = true;
    // New credentials reach the auth state in refreshOnce (it compares them by identity); a
    // refresh already running started with the old ones, so wait for it and refresh again.
    if (e.running) await e.running;
    await this.refresh(e.id);
    return this.view(e);
  }

  remove(id: string): void {
    const e = this.entry(id);
    e.removed = true;
    clearTimeout(e.timer);
    this.entries.delete(id);
    this.store.remove(id);
    this.metrics.drift.remove({ camera: id });
    this.events.emit('camera_removed', `camera ${id} removed`, id);
  }

  /** Sets the credentials used for discovered cameras (and cameras added without their own). */
  async setDefaultCredentials(c: Credentials): Promise<void> {
    this.store.setDefault(c);
    await Promise.allSettled([...this.entries.values()].filter((e) => e.credentialsFrom !== 'camera').map((e) => this.refresh(e.id)));
  }

  /** Runs discovery now (a run already going is joined, not doubled). */
  runDiscovery(trigger: string): Promise<DiscoveryRun> {
    if (!this.cfg.discoveryEnabled) return Promise.reject(new AppError(onvifErrors.DISCOVERY, 'WS-Discovery is off (ONVIF_DISCOVERY=false)'));
    this.discovery ??= discover({ listenMs: this.cfg.discoveryListenMs, interfaces: this.cfg.discoveryInterfaces }).then((run) => {
      this.metrics.discoveryRuns.inc({ trigger });
      this.metrics.devicesFound.set(run.devices.length);
      let added = 0;
      for (const d of run.devices) if (this.upsertDiscovered(d)) added++;
      this.events.emit('discovery_run', `discovery (${trigger}) on ${run.interfaces.join(', ') || 'no interface'}: ${run.devices.length} device(s), ${added} new, ${run.durationMs} ms`);
      return run;
    }).finally(() => { this.discovery = undefined; });
    return this.discovery;
  }

  /** Refreshes one camera now (joins a refresh already running). */
  refresh(id: string): Promise<void> {
    const e = this.entry(id);
    if (!e.running) {
      clearTimeout(e.timer);
      e.running = this.refreshOnce(e).finally(() => { e.running = undefined; this.schedule(e); });
    }
    return e.running;
  }

  /** Finds a camera by id, endpoint reference or address. */
  resolve(q: { device?: string; address?: string }): CameraView {
    let e: Entry | undefined;
    if (q.device) e = this.entries.get(q.device) ?? [...this.entries.values()].find((x) => x.endpointReference === q.device);
    else if (q.address) { const hp = hostPort(parseAddress(q.address)); e = [...this.entries.values()].find((x) => hostPort(x.deviceUrl) === hp); }
    if (!e) throw new AppError(onvifErrors.UNKNOWN_CAMERA, `no camera ${q.device ?? q.address}`);
    return this.view(e);
  }

  /**
   * The RTSP URI of one profile (by token or name; default the first). `fresh`: ask the camera
   * now (a rebooted camera may hand out another URI); if it does not answer, the last known URI.
   */
  async streamUri(id: string, profile: string | undefined, fresh: boolean): Promise<{ uri: string; profile: { token: string; name: string }; fresh: boolean }> {
    const e = this.entry(id);
    const d = e.description;
    if (!d) throw new AppError(onvifErrors.NOT_READY, `camera ${id} has not answered yet (${e.status})`);
    const p = profile ? d.profiles.find((x) => x.token === profile || x.name === profile) : d.profiles[0];
    if (!p) throw new AppError(onvifErrors.UNKNOWN_PROFILE, `camera ${id} has no profile ${profile ?? '(none at all)'}; it has: ${d.profiles.map((x) => x.name).join(', ')}`);
    if (fresh) {
      try {
        const rewrites: Rewrite[] = [];
        const uri = await getStreamUri(this.describeOptions(e), d.mediaUrl, p.token, rewrites, p.name);
        if (uri !== p.streamUri) this.events.emit('stream_uri_changed', `camera ${id}: stream URI of profile ${p.name} changed (the camera rebooted?)`, id);
        p.streamUri = uri;
        return { uri, profile: { token: p.token, name: p.name }, fresh: true };
      } catch { /* the cached URI below */ }
    }
    if (!p.streamUri) throw new AppError(onvifErrors.NOT_READY, `camera ${id}: no stream URI for profile ${p.name}`);
    return { uri: p.streamUri, profile: { token: p.token, name: p.name }, fresh: false };
  }

  private entry(id: string): Entry {
    const e = this.entries.get(id);
    if (!e) throw new AppError(onvifErrors.UNKNOWN_CAMERA, `no camera ${id}`);
    return e;
  }

  private addEntry(id: string, deviceUrl: URL, how: { configured?: boolean; discovered?: boolean }): Entry {
    const e: Entry = { id, deviceUrl, scopes: [], discovered: !!how.discovered, configured: !!how.configured, auth: { clockOffsetMs: 0 }, credentialsFrom: 'none', status: 'pending', failures: 0, removed: false };
    this.entries.set(id, e);
    this.events.emit(how.discovered ? 'discovered' : 'camera_added', `camera ${id} at ${hostPort(deviceUrl)}`, id);
    void this.refresh(id);
    return e;
  }

  /** True when the device is new. Same device on another interface, or already added by address: merged. */
  private upsertDiscovered(d: DiscoveryRun['devices'][number]): boolean {
    const where = deviceUrlFromDiscovery(d.xaddrs, d.answeredFrom);
    if (!where) return false;
    const known = [...this.entries.values()].find((e) => e.endpointReference === d.endpointReference || hostPort(e.deviceUrl) === hostPort(where.url));
    const e = known ?? this.addEntry(endpointId(d.endpointReference), where.url, { discovered: true });
    e.discovered = true;
    e.endpointReference = d.endpointReference;
    e.scopes = d.scopes;
    if (where.rewrite && JSON.stringify(where.rewrite) !== JSON.stringify(e.discoveryRewrite)) {
      this.events.emit('address_rewritten', `camera ${e.id}: XAddr ${where.rewrite.from} unreachable from here: using ${where.rewrite.to} (the address it answered from)`, e.id);
    }
    e.discoveryRewrite = where.rewrite;
    return !known;
  }

  private credentialsFor(e: Entry): Credentials | undefined {
    const own = this.store.cameras().find((c) => c.id === e.id)?.credentials;
    const def = this.store.defaultCredentials();
    e.credentialsFrom = own ? 'camera' : def ? 'default' : 'none';
    return own ?? def;
  }

  private describeOptions(e: Entry, signal: AbortSignal = this.stopping.signal) {
    return {
      deviceUrl: e.deviceUrl.toString(),
      auth: e.auth,
      timeoutMs: this.cfg.requestTimeoutMs,
      signal,
      observe: (op: string, s: number, code?: string) => {
        this.metrics.requestSeconds.observe({ operation: op }, s);
        if (code) this.metrics.requestErrors.inc({ operation: op, code });
      },
    };
  }

  private async refreshOnce(e: Entry): Promise<void> {
    const creds = this.credentialsFor(e);
    if (e.auth.credentials !== creds) e.auth = { clockOffsetMs: e.auth.clockOffsetMs, credentials: creds };
    const before = { status: e.status, method: e.auth.method, rewrites: JSON.stringify(e.description?.rewrites ?? []), warn: this.driftWarning(e) };
    e.lastAttemptAt = new Date().toISOString();
    // The whole refresh has a deadline too (a camera slow on each of its 9 calls).
    const cap = deadline(this.cfg.requestTimeoutMs * REFRESH_CAP_REQUESTS, this.stopping.signal);
    try {
      const d = await describe(this.describeOptions(e, cap.signal));
      if (e.removed) return;
      e.description = d;
      e.status = 'ok';
      e.failures = 0;
      e.lastOkAt = new Date().toISOString();
      e.lastError = undefined;
      this.metrics.drift.set({ camera: e.id }, d.driftS);
    } catch (err) {
      if (e.removed || this.stopping.signal.aborted) return;
      const oe = err instanceof OnvifError ? err : new OnvifError(onvifErrors.BAD_RESPONSE, 'refresh', (err as Error).message);
      e.failures++;
      e.status = oe.code === onvifErrors.AUTH || oe.code === onvifErrors.NO_CREDENTIALS ? 'auth_failed'
        : oe.code === onvifErrors.TIMEOUT || oe.code === onvifErrors.CONNECT ? 'unreachable' : 'error';
      e.lastError = { code: oe.code, operation: oe.operation, message: oe.message, at: new Date().toISOString() };
    } finally {
      cap.clear();
    }
    this.report(e, before);
  }

  private report(e: Entry, before: { status: CameraStatus; method?: string; rewrites: string; warn: boolean }): void {
    if (e.status !== before.status) {
      if (e.status === 'ok') this.events.emit('reachable', `camera ${e.id} answers (${e.description?.device.model ?? '?'}, ${e.description?.profiles.length ?? 0} profile(s))`, e.id);
      else if (e.status === 'auth_failed') this.events.emit('auth_failed', `camera ${e.id} refused the credentials: ${e.lastError?.message}`, e.id);
      else if (e.status === 'unreachable') this.events.emit('unreachable', `camera ${e.id} unreachable: ${e.lastError?.message}`, e.id);
    }
    if (e.auth.method && e.auth.method !== before.method) this.events.emit('auth_method', `camera ${e.id} accepts ${e.auth.method === 'http-digest' ? 'HTTP digest only (WS-Security refused): using it from now on' : 'WS-Security'}`, e.id);
    const rw = JSON.stringify(e.description?.rewrites ?? []);
    if (rw !== before.rewrites && e.description?.rewrites.length) {
      this.events.emit('address_rewritten', `camera ${e.id}: ${e.description.rewrites.map((r) => `${r.what} ${r.from} -> ${r.to}`).join('; ')} (the camera handed out an address other than the one it answers on)`, e.id);
    }
    if (this.driftWarning(e) && !before.warn) this.events.emit('clock_drift', `camera ${e.id} clock is ${e.description!.driftS} s off the box's: signing with the camera's time; set its NTP server`, e.id);
  }

  private driftWarning(e: Entry): boolean {
    return !!e.description && Math.abs(e.description.driftS) > this.cfg.driftWarnS;
  }

  private schedule(e: Entry): void {
    if (e.removed || this.stopping.signal.aborted) return;
    const base = e.status === 'ok' ? this.cfg.refreshIntervalMs : Math.min(this.cfg.maxBackoffMs, this.cfg.backoffMs * 2 ** Math.max(0, e.failures - 1));
    // +-10 %: cameras found by one discovery run would otherwise refresh in one burst forever.
    const delay = Math.round(base * (0.9 + Math.random() * 0.2));
    e.nextRefreshAt = Date.now() + delay;
    e.timer = setTimeout(() => { void this.refresh(e.id).catch(() => {}); }, delay).unref();
  }

  private view(e: Entry): CameraView {
    const d = e.description;
    const rewrites = [...(e.discoveryRewrite ? [e.discoveryRewrite] : []), ...(d?.rewrites ?? [])];
    return {
      id: e.id,
      address: hostPort(e.deviceUrl),
      deviceUrl: e.deviceUrl.toString(),
      endpointReference: e.endpointReference ?? null,
      source: e.discovered && e.configured ? 'both' : e.discovered ? 'discovery' : 'configured',
      scopes: e.scopes,
      status: e.status,
      reachable: isReachable(e.status),
      credentials: e.credentialsFrom,
      auth: e.auth.method ?? null,
      drift: d ? { seconds: d.driftS, warning: this.driftWarning(e) } : null,
      device: d?.device ?? null,
      profiles: d?.profiles.map((p) => ({ ...p })) ?? [],
      rewrites,
      lastError: e.lastError ?? null,
      lastAttemptAt: e.lastAttemptAt ?? null,
      lastOkAt: e.lastOkAt ?? null,
      nextRefreshAt: e.nextRefreshAt ? new Date(e.nextRefreshAt).toISOString() : null,
    };
  }
}

/** A whole refresh may take as long as this many requests at their timeout. */
const REFRESH_CAP_REQUESTS = 4;

const isReachable = (s: CameraStatus) => s === 'ok' || s === 'auth_failed' || s === 'error';
