// The ONVIF operations the service uses, in the order `onvif`'s connect() sends them
// (GetSystemDateAndTime, GetServices or GetCapabilities, then the authenticated ones), and the
// full description of one camera built from them.
import { OnvifError, onvifErrors } from './errors.ts';
import { NS, soapCall, type AuthState } from './soap.ts';
import { at, attr, list, text, type XmlNode } from './xml.ts';

/** Device information (GetDeviceInformation). All strings, as the camera sent them. */
export interface DeviceInfo {
  manufacturer: string;
  model: string;
  firmwareVersion: string;
  serialNumber: string;
  hardwareId: string;
}

/** One media profile with its URIs (userinfo stripped: credentials never leave the service). */
export interface Profile {
  token: string;
  name: string;
  encoding?: string;
  width?: number;
  height?: number;
  fps?: number;
  streamUri?: string;
  snapshotUri?: string;
}

/** An address the camera handed out that was replaced by the one it answered from. */
export interface Rewrite { what: string; from: string; to: string }

/** What one refresh learnt. */
export interface Description {
  /** Camera clock minus ours, seconds (one decimal). */
  driftS: number;
  device: DeviceInfo;
  profiles: Profile[];
  videoSources: number;
  mediaUrl: string;
  rewrites: Rewrite[];
  /** True when GetServices failed and GetCapabilities was used. */
  usedCapabilities: boolean;
}

/** Measures one operation (metrics.ts records it). */
export type Observe = (operation: string, seconds: number, errorCode?: string) => void;

export interface DescribeOptions {
  /** The device service URL actually used (host:port the camera answers on). */
  deviceUrl: string;
  auth: AuthState;
  timeoutMs: number;
  signal?: AbortSignal;
  observe?: Observe;
}

const action = (ns: string, op: string) => `${ns}/${op}`;

async function call(o: DescribeOptions, url: string, ns: string, op: string, body: string, authenticated: boolean): Promise<XmlNode> {
  const t0 = performance.now();
  try {
    const r = await soapCall({ url, operation: op, action: action(ns, op), body, auth: authenticated ? o.auth : undefined, timeoutMs: o.timeoutMs, signal: o.signal });
    o.observe?.(op, (performance.now() - t0) / 1000);
    return r;
  } catch (err) {
    o.observe?.(op, (performance.now() - t0) / 1000, (err as OnvifError).code ?? 'ONVIF_ERR_UNKNOWN');
    throw err;
  }
}

/** Camera clock minus ours (ms), from an unauthenticated GetSystemDateAndTime. */
export async function measureClock(o: DescribeOptions): Promise<number> {
  const before = Date.now();
  const body = await call(o, o.deviceUrl, NS.tds, 'GetSystemDateAndTime', '<tds:GetSystemDateAndTime/>', false);
  const after = Date.now();
  const dt = at(body, 'GetSystemDateAndTimeResponse', 'SystemDateAndTime', 'UTCDateTime');
  const num = (...p: string[]) => Number(text(at(dt, ...p)));
  const t = Date.UTC(num('Date', 'Year'), num('Date', 'Month') - 1, num('Date', 'Day'), num('Time', 'Hour'), num('Time', 'Minute'), num('Time', 'Second'));
  if (!Number.isFinite(t)) throw new OnvifError(onvifErrors.BAD_RESPONSE, 'GetSystemDateAndTime', 'GetSystemDateAndTime: no UTCDateTime in the answer');
  // The camera's clock has whole seconds: its reading lies anywhere in [t, t+1 s); take the middle,
  // against the middle of our request.
  return t + 500 - (before + after) / 2;
}

/**
 * Rewrites `raw` when its host is not the one the camera answered from. `keepPort`: RTSP and
 * snapshot URIs keep their own port (another server on the camera); service XAddrs take ours.
 */
export function rewriteUrl(raw: string, reached: URL, what: string, rewrites: Rewrite[], keepPort: boolean): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return raw;
  }
  // Credentials in a URI the camera hands out are dropped: they would leak into every answer.
  u.username = '';
  u.password = '';
  if (u.hostname !== reached.hostname || (!keepPort && u.port !== reached.port)) {
    const from = u.toString();
    u.hostname = reached.hostname;
    if (!keepPort) u.port = reached.port;
    rewrites.push({ what, from, to: u.toString() });
  }
  return u.toString();
}

/** The media service URL: GetServices, or GetCapabilities on cameras without it (ONVIF < 2.0). */
async function mediaService(o: DescribeOptions, reached: URL, rewrites: Rewrite[]): Promise<{ url: string; usedCapabilities: boolean }> {
  let xaddr: string | undefined;
  let usedCapabilities = false;
  try {
    const body = await call(o, o.deviceUrl, NS.tds, 'GetServices', '<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>', false);
    const svc = list(at(body, 'GetServicesResponse', 'Service')).find((s) => text(at(s, 'Namespace')) === NS.trt);
    xaddr = text(at(svc, 'XAddr'));
  } catch (err) {
    if ((err as OnvifError).code !== onvifErrors.FAULT) throw err;
    usedCapabilities = true;
    const body = await call(o, o.deviceUrl, NS.tds, 'GetCapabilities', '<tds:GetCapabilities><tds:Category>All</tds:Category></tds:GetCapabilities>', false);
    xaddr = text(at(body, 'GetCapabilitiesResponse', 'Capabilities', 'Media', 'XAddr'));
  }
  if (!xaddr) throw new OnvifError(onvifErrors.NO_MEDIA, 'GetServices', 'the camera lists no media service');
  return { url: rewriteUrl(xaddr, reached, 'media service XAddr', rewrites, false), usedCapabilities };
}

function parseProfile(p: XmlNode): Profile {
  const enc = at(p, 'VideoEncoderConfiguration');
  const n = (v: unknown) => { const x = Number(text(v)); return Number.isFinite(x) && text(v) !== undefined ? x : undefined; };
  return {
    token: attr(p, 'token') ?? '',
    name: text(at(p, 'Name')) ?? '',
    encoding: text(at(enc, 'Encoding')),
    width: n(at(enc, 'Resolution', 'Width')),
    height: n(at(enc, 'Resolution', 'Height')),
    fps: n(at(enc, 'RateControl', 'FrameRateLimit')),
  };
}

/** GetStreamUri (RTSP over RTP unicast) for one profile token. */
export async function getStreamUri(o: DescribeOptions, mediaUrl: string, token: string, rewrites: Rewrite[], name = token): Promise<string> {
  const reached = new URL(o.deviceUrl);
  const body = await call(o, mediaUrl, NS.trt, 'GetStreamUri',
    `<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup><trt:ProfileToken>${token.replace(/[<&]/g, '')}</trt:ProfileToken></trt:GetStreamUri>`, true);
  const uri = text(at(body, 'GetStreamUriResponse', 'MediaUri', 'Uri'));
  if (!uri) throw new OnvifError(onvifErrors.BAD_RESPONSE, 'GetStreamUri', 'GetStreamUri: no Uri in the answer');
  return rewriteUrl(uri, reached, `stream URI of profile ${name}`, rewrites, true);
}

async function getSnapshotUri(o: DescribeOptions, mediaUrl: string, token: string, rewrites: Rewrite[], name: string): Promise<string | undefined> {
  const reached = new URL(o.deviceUrl);
  try {
    const body = await call(o, mediaUrl, NS.trt, 'GetSnapshotUri', `<trt:GetSnapshotUri><trt:ProfileToken>${token.replace(/[<&]/g, '')}</trt:ProfileToken></trt:GetSnapshotUri>`, true);
    const uri = text(at(body, 'GetSnapshotUriResponse', 'MediaUri', 'Uri'));
    return uri ? rewriteUrl(uri, reached, `snapshot URI of profile ${name}`, rewrites, true) : undefined;
  } catch (err) {
    // Snapshots are optional in Profile S: a fault is "not supported", anything else is real.
    if ((err as OnvifError).code === onvifErrors.FAULT) return undefined;
    throw err;
  }
}

/**
 * Describes one camera: clock, services, device information (the explicit authentication check:
 * it needs credentials, unlike the first two calls), profiles, video sources, URIs.
 */
export async function describe(o: DescribeOptions): Promise<Description> {
  const reached = new URL(o.deviceUrl);
  const rewrites: Rewrite[] = [];
  const offsetMs = await measureClock(o);
  o.auth.clockOffsetMs = offsetMs;
  const media = await mediaService(o, reached, rewrites);
  const info = at(await call(o, o.deviceUrl, NS.tds, 'GetDeviceInformation', '<tds:GetDeviceInformation/>', true), 'GetDeviceInformationResponse');
  const s = (k: string) => text(at(info, k)) ?? '';
  const device: DeviceInfo = { manufacturer: s('Manufacturer'), model: s('Model'), firmwareVersion: s('FirmwareVersion'), serialNumber: s('SerialNumber'), hardwareId: s('HardwareId') };
  const profiles = list(at(await call(o, media.url, NS.trt, 'GetProfiles', '<trt:GetProfiles/>', true), 'GetProfilesResponse', 'Profiles')).map(parseProfile);
  const videoSources = list(at(await call(o, media.url, NS.trt, 'GetVideoSources', '<trt:GetVideoSources/>', true), 'GetVideoSourcesResponse', 'VideoSources')).length;
  // One profile after the other: some cameras serve one SOAP request at a time.
  for (const p of profiles) {
    p.streamUri = await getStreamUri(o, media.url, p.token, rewrites, p.name);
    p.snapshotUri = await getSnapshotUri(o, media.url, p.token, rewrites, p.name);
  }
  return { driftS: Math.round(offsetMs / 100) / 10, device, profiles, videoSources, mediaUrl: media.url, rewrites, usedCapabilities: media.usedCapabilities };
}
