import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import sharp from 'sharp';
import { child, envelope, esc, fault, notAuthorized, parse, textOf, type Node } from './onvif-soap.ts';

/**
 * A simulated ONVIF camera (Profile S device and media services) speaking SOAP 1.2 over HTTP, a
 * real protocol peer for apps/onvif: WS-Security UsernameToken digests are checked for real
 * against the camera's own clock (settable offset; tokens more than 5 s off are refused, as real
 * cameras do), nonces are not accepted twice, an HTTP-digest-only mode ignores WS-Security, and a
 * wrong password gets the fault real cameras send (HTTP 400, env:Sender / ter:NotAuthorized).
 * Its discovery responder is in onvif-discovery.ts.
 */
export interface SimProfile { token: string; name: string; width: number; height: number; fps: number }

export interface SimCameraOptions {
  /** Bind address (default 127.0.0.1); also the address in XAddrs and URIs. */
  host?: string;
  port?: number;
  username?: string;
  password?: string;
  /** `ws-security` (default): UsernameToken digest; `http-digest`: HTTP digest only. */
  auth?: 'ws-security' | 'http-digest';
  /** The camera clock minus the real one (ms). */
  clockOffsetMs?: number;
  manufacturer?: string;
  model?: string;
  firmwareVersion?: string;
  serialNumber?: string;
  hardwareId?: string;
  /** `urn:uuid:...` (default: random). */
  endpointReference?: string;
  profiles?: SimProfile[];
  /** The RTSP URI GetStreamUri hands out (the same stream for every profile). */
  rtspUri?: string;
  /** Accept connections, never answer (a hung camera). */
  hang?: boolean;
  /** Send the status line, headers and half of each answer, then stop (a camera that dies mid-answer). */
  stallMidAnswer?: boolean;
  /** XAddrs and URIs carry 192.0.2.1 (TEST-NET-1: unreachable) instead of the camera's address. */
  unreachableXAddr?: boolean;
  /** Answer GetServices with ter:ActionNotSupported (a pre-2.0 device): clients use GetCapabilities. */
  noGetServices?: boolean;
}

export interface SimCamera {
  /** The device service URL (http://host:port/onvif/device_service). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly options: Readonly<Required<Omit<SimCameraOptions, 'port' | 'rtspUri'>>> & { rtspUri?: string };
  /** Operation names received, in order (GetSystemDateAndTime, GetServices, ...). */
  readonly requests: string[];
  /** Authenticated requests refused. */
  authFailures(): number;
  /** Changes behaviour at run time (hang, clock, a new RTSP URI after a "reboot", ...). */
  set(patch: Partial<SimCameraOptions>): void;
  /** The XAddr this camera advertises (what discovery hands out). */
  xaddr(): string;
  stop(): Promise<void>;
}

const PRE_AUTH = new Set(['GetSystemDateAndTime', 'GetServices', 'GetCapabilities']);
const UNREACHABLE = '192.0.2.1';
const WINDOW_MS = 5000;
let seq = 0;

export async function startSimCamera(opts: SimCameraOptions = {}): Promise<SimCamera> {
  const n = ++seq;
  const o = {
    host: '127.0.0.1', username: 'admin', password: 'sim-password', auth: 'ws-security' as const, clockOffsetMs: 0,
    manufacturer: 'SimVision', model: 'SV-100', firmwareVersion: '1.2.3', serialNumber: `00${1000 + n}`, hardwareId: 'HW-1',
    endpointReference: `urn:uuid:${randomUuid()}`, hang: false, stallMidAnswer: false, unreachableXAddr: false, noGetServices: false,
    profiles: [{ token: 'main', name: 'mainStream', width: 1280, height: 720, fps: 10 }, { token: 'sub', name: 'subStream', width: 640, height: 360, fps: 5 }],
    ...opts,
  };
  const requests: string[] = [];
  const usedNonces = new Set<string>();
  const digestNonces = new Set<string>();
  const hung = new Set<Socket>();
  let authFailures = 0;
  const snapshot = await sharp({ create: { width: 320, height: 180, channels: 3, background: '#3070a0' } }).jpeg({ quality: 70 }).toBuffer();

  const advertised = () => (o.unreachableXAddr ? UNREACHABLE : o.host);
  const base = () => `http://${advertised()}:${port}`;
  const now = () => Date.now() + o.clockOffsetMs;

  const checkWsSecurity = (env: Node): boolean => {
    const tok = child(env, 'Header', 'Security', 'UsernameToken');
    const user = textOf(child(tok, 'Username'));
    const pw = child(tok, 'Password');
    const nonce = textOf(child(tok, 'Nonce'));
    const created = textOf(child(tok, 'Created'));
    if (!tok || user !== o.username || !pw || !nonce || !created) return false;
    const t = Date.parse(created);
    if (!Number.isFinite(t) || Math.abs(t - now()) > WINDOW_MS) return false;
    if (usedNonces.has(nonce)) return false;
    const expected = createHash('sha1').update(Buffer.concat([Buffer.from(nonce, 'base64'), Buffer.from(created + o.password)])).digest();
    const got = Buffer.from(textOf(pw) ?? '', 'base64');
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) return false;
    usedNonces.add(nonce);
    return true;
  };

  const checkDigest = (req: IncomingMessage): boolean => {
    const h = req.headers.authorization ?? '';
    if (!/^digest /i.test(h)) return false;
    const p: Record<string, string> = {};
    for (const m of h.slice(7).matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]+))/g)) p[m[1]!.toLowerCase()] = m[2] ?? m[3]!;
    if (p.username !== o.username || !p.nonce || !digestNonces.has(p.nonce)) return false;
    const md5 = (s: string) => createHash('md5').update(s).digest('hex');
    const ha1 = md5(`${o.username}:onvif-sim:${o.password}`);
    const ha2 = md5(`${req.method}:${p.uri}`);
    return p.response === md5(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`);
  };

  const reply = (res: ServerResponse, status: number, xml: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/soap+xml; charset=utf-8', 'content-length': String(Buffer.byteLength(xml)), ...headers });
    if (o.stallMidAnswer) {
      res.write(xml.slice(0, xml.length >> 1));
      hung.add(res.socket!);
      return;
    }
    res.end(xml);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (o.hang) { hung.add(req.socket); return; }
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/onvif/snapshot') {
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': snapshot.length });
      res.end(snapshot);
      return;
    }
    if (req.method !== 'POST' || !url.pathname.startsWith('/onvif/')) { res.writeHead(404).end(); return; }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let env: Node | undefined;
    try {
      env = child(await parse(Buffer.concat(chunks).toString('utf8')), 'Envelope');
    } catch { /* answered below */ }
    const body = child(env, 'Body');
    const op = body ? Object.keys(body).find((k) => k !== '$' && k !== '_') : undefined;
    if (!env || !op) return reply(res, 400, fault('env:Sender', 'ter:WellFormed', 'not a SOAP 1.2 envelope'));
    requests.push(op);
    if (!PRE_AUTH.has(op)) {
      if (o.auth === 'http-digest' ? !checkDigest(req) : !checkWsSecurity(env)) {
        authFailures++;
        if (o.auth === 'http-digest') {
          const nonce = randomBytes(16).toString('hex');
          digestNonces.add(nonce);
          return reply(res, 401, fault('env:Sender', 'ter:NotAuthorized', 'Sender not Authorized'), { 'www-authenticate': `Digest realm="onvif-sim", qop="auth", nonce="${nonce}", algorithm=MD5` });
        }
        return reply(res, 400, notAuthorized());
      }
    }
    const answer = respond(op, body!);
    if (!answer) return reply(res, 400, fault('env:Receiver', 'ter:ActionNotSupported', `${op} is not supported`));
    reply(res, 200, envelope(answer));
  };

  const profileXml = (p: SimProfile) => `<trt:Profiles token="${esc(p.token)}" fixed="true"><tt:Name>${esc(p.name)}</tt:Name>` +
    `<tt:VideoSourceConfiguration token="vsc"><tt:Name>vsc</tt:Name><tt:UseCount>2</tt:UseCount><tt:SourceToken>vs0</tt:SourceToken><tt:Bounds x="0" y="0" width="${p.width}" height="${p.height}"/></tt:VideoSourceConfiguration>` +
    `<tt:VideoEncoderConfiguration token="vec-${esc(p.token)}"><tt:Name>${esc(p.name)}</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>` +
    `<tt:Resolution><tt:Width>${p.width}</tt:Width><tt:Height>${p.height}</tt:Height></tt:Resolution><tt:Quality>5</tt:Quality>` +
    `<tt:RateControl><tt:FrameRateLimit>${p.fps}</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>1024</tt:BitrateLimit></tt:RateControl>` +
    `<tt:H264><tt:GovLength>${p.fps}</tt:GovLength><tt:H264Profile>Baseline</tt:H264Profile></tt:H264><tt:SessionTimeout>PT60S</tt:SessionTimeout></tt:VideoEncoderConfiguration></trt:Profiles>`;

  const respond = (op: string, body: Node): string | undefined => {
    const token = textOf(child(body, op, 'ProfileToken'));
    const profile = o.profiles.find((p) => p.token === token);
    switch (op) {
      case 'GetSystemDateAndTime': {
        const d = new Date(now());
        const dt = `<tt:Time><tt:Hour>${d.getUTCHours()}</tt:Hour><tt:Minute>${d.getUTCMinutes()}</tt:Minute><tt:Second>${d.getUTCSeconds()}</tt:Second></tt:Time>` +
          `<tt:Date><tt:Year>${d.getUTCFullYear()}</tt:Year><tt:Month>${d.getUTCMonth() + 1}</tt:Month><tt:Day>${d.getUTCDate()}</tt:Day></tt:Date>`;
        return `<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>` +
          `<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone><tt:UTCDateTime>${dt}</tt:UTCDateTime><tt:LocalDateTime>${dt}</tt:LocalDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>`;
      }
      case 'GetServices':
        if (o.noGetServices) return undefined;
        return `<tds:GetServicesResponse>` +
          `<tds:Service><tds:Namespace>http://www.onvif.org/ver10/device/wsdl</tds:Namespace><tds:XAddr>${base()}/onvif/device_service</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>` +
          `<tds:Service><tds:Namespace>http://www.onvif.org/ver10/media/wsdl</tds:Namespace><tds:XAddr>${base()}/onvif/media_service</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>` +
          `</tds:GetServicesResponse>`;
      case 'GetCapabilities':
        return `<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Device><tt:XAddr>${base()}/onvif/device_service</tt:XAddr></tt:Device>` +
          `<tt:Media><tt:XAddr>${base()}/onvif/media_service</tt:XAddr><tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>`;
      case 'GetDeviceInformation':
        return `<tds:GetDeviceInformationResponse><tds:Manufacturer>${esc(o.manufacturer)}</tds:Manufacturer><tds:Model>${esc(o.model)}</tds:Model>` +
          `<tds:FirmwareVersion>${esc(o.firmwareVersion)}</tds:FirmwareVersion><tds:SerialNumber>${esc(o.serialNumber)}</tds:SerialNumber><tds:HardwareId>${esc(o.hardwareId)}</tds:HardwareId></tds:GetDeviceInformationResponse>`;
      case 'GetProfiles':
        return `<trt:GetProfilesResponse>${o.profiles.map(profileXml).join('')}</trt:GetProfilesResponse>`;
      case 'GetVideoSources': {
        const p = o.profiles[0]!;
        return `<trt:GetVideoSourcesResponse><trt:VideoSources token="vs0"><tt:Framerate>${p.fps}</tt:Framerate><tt:Resolution><tt:Width>${p.width}</tt:Width><tt:Height>${p.height}</tt:Height></tt:Resolution></trt:VideoSources></trt:GetVideoSourcesResponse>`;
      }
      case 'GetStreamUri': {
        if (!profile) return undefined;
        let uri = o.rtspUri ?? `rtsp://${o.host}:554/${profile.token}`;
        if (o.unreachableXAddr) { const u = new URL(uri); u.hostname = UNREACHABLE; uri = u.toString(); }
        return `<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>${esc(uri)}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>true</tt:InvalidAfterReboot><tt:Timeout>PT60S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>`;
      }
      case 'GetSnapshotUri':
        if (!profile) return undefined;
        return `<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>${base()}/onvif/snapshot?profile=${encodeURIComponent(profile.token)}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT60S</tt:Timeout></trt:MediaUri></trt:GetSnapshotUriResponse>`;
      default:
        return undefined;
    }
  };

  const server: Server = createServer((req, res) => { handle(req, res).catch(() => { if (!res.headersSent) res.writeHead(500).end(); }); });
  server.on('connection', (s) => s.on('error', () => {}));
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(opts.port ?? 0, o.host, () => resolve()); });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://${o.host}:${port}/onvif/device_service`,
    host: o.host,
    port,
    options: o,
    requests,
    authFailures: () => authFailures,
    set: (patch) => {
      Object.assign(o, patch);
      if (patch.hang === false || patch.stallMidAnswer === false) for (const s of hung) s.destroy();
    },
    xaddr: () => `${base()}/onvif/device_service`,
    stop: () => new Promise<void>((resolve) => {
      for (const s of hung) s.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

function randomUuid(): string {
  const b = randomBytes(16).toString('hex');
  return `${b.slice(0, 8)}-${b.slice(8, 12)}-${b.slice(12, 16)}-${b.slice(16, 20)}-${b.slice(20)}`;
}
