import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { envVars, failpointsEnv, keyedUnion, loadCheckedYaml, parseEnv, registerSecretsIn, type Env } from '../../common/src/index.ts';
import { codes, EdgevisorError } from 'edgevisor';

/**
 * Camera controller configuration. This module is the only one in apps/camera that reads
 * process.env (through `loadEnvConfig(process.env)` in main.ts).
 */

// A wrong password value is never quoted back in an error ("got ..."): the message says what is accepted only.
/** More cameras than one controller process can decode is a typo or junk, not a plant. */
const MAX_CAMERAS = 256;

const credentials = { username: z.string().min(1).optional(), password: z.string({ error: 'expected a string (the value is not shown)' }).optional() };
const httpUrl = z.string().regex(/^https?:\/\//, 'expected an http:// or https:// URL');

/** One camera's source, exactly one key. */
const sourceSchema = keyedUnion(z.union([
  z.object({ rtsp: z.object({ url: z.string().regex(/^rtsps?:\/\//, 'expected an rtsp:// URL') }).strict() }).strict(),
  z.object({ mjpeg: z.object({ url: httpUrl, ...credentials }).strict() }).strict(),
  z.object({ snapshot: z.object({ url: httpUrl, ...credentials }).strict() }).strict(),
  // ONVIF: the stream URI comes from the onvif service (ONVIF_URL) for `device` (id or endpoint
  // reference) or `address`, with `profile` (token or name); `stream_uri` alone is a static URI
  // (decoded like rtsp), and with device/address the URI to use until the service first answers.
  z.object({ onvif: z.object({
    stream_uri: z.string().regex(/^rtsps?:\/\//, 'expected an rtsp:// URL').optional(),
    device: z.string().min(1).max(200).optional(),
    address: z.string().min(1).max(300).optional(),
    profile: z.string().min(1).max(100).optional(),
    ...credentials,
  }).strict().refine((o) => !(o.device && o.address) && !!(o.stream_uri || o.device || o.address), 'expected stream_uri, or one of device / address (with profile)') }).strict(),
  // clip: a video file played in a loop instead of the drawn figure (real footage for the person
  // detector); if the file is missing the figure is drawn, and the camera says so once.
  z.object({ synthetic: z.object({ period_s: z.number().min(1).max(3600).default(12), clip: z.string().min(1, 'expected a video file path').max(4096).optional() }).strict() }).strict(),
]), 'expected exactly one of rtsp: {url}, mjpeg: {url, username?, password?}, snapshot: {url, username?, password?}, onvif: {stream_uri} or {device | address, profile?}, synthetic: {period_s?, clip?}');

/** A camera id (also its worker's child id): what cameras.yaml accepts, and a worker added by hand under `discovered`. */
export const cameraId = { pattern: /^[a-z0-9][a-z0-9_-]{0,62}$/i, expected: 'an id of letters, digits, _ or - (max 63)' } as const;

const cameraIdSchema = z.string().regex(cameraId.pattern, `expected ${cameraId.expected}`);

/** What a camera gets besides its id and source: also what `discovered:` gives every discovered camera. */
const cameraSettings = {
  fps: z.number().min(0.1).max(60).default(5),
  width: z.number().int().min(16).max(3840).default(640),
  height: z.number().int().min(16).max(2160).default(360),
  /** Default: max(10 s (3 s synthetic), 10 frame intervals), so low-fps cameras are not restarted in loops. */
  // Bounded: past 2^31-1 ms a Node timer fires at once (the watchdog would restart in a loop).
  heartbeat_timeout_ms: z.number().int().min(100).max(3_600_000).optional(),
  /**
   * Also produce raw RGB24 frames of exactly this size (the whole frame letterboxed into it) for the
   * detector, decoded once with the JPEG. Set it to the model input (320x320 for the shipped model).
   */
  detect: z.object({
    width: z.number({ message: 'expected an integer 16..1920 (pixels)' }).int('expected an integer 16..1920 (pixels)').min(16, 'expected an integer 16..1920 (pixels)').max(1920, 'expected an integer 16..1920 (pixels)'),
    height: z.number({ message: 'expected an integer 16..1920 (pixels)' }).int('expected an integer 16..1920 (pixels)').min(16, 'expected an integer 16..1920 (pixels)').max(1920, 'expected an integer 16..1920 (pixels)'),
  }, { message: 'expected detect: { width, height } (the detector input size, e.g. 320 x 320)' }).strict().optional(),
};

const cameraSchema = z.object({ id: cameraIdSchema, source: sourceSchema, ...cameraSettings }).strict();

/** Which discovered cameras are meant: by the onvif service's id, or by the manufacturer the camera reports (GetDeviceInformation, case-insensitive). */
const discoveredMatch = z.object({
  ids: z.array(z.string().min(1).max(200)).min(1, 'expected at least one id').max(MAX_CAMERAS).optional(),
  manufacturers: z.array(z.string().min(1).max(100)).min(1, 'expected at least one manufacturer').max(64).optional(),
}).strict().refine((m) => !!(m.ids || m.manufacturers), 'expected ids: [...] and/or manufacturers: [...]');

/** Polls in a row a discovered camera may be missing from the onvif service's list before its worker goes. */
export const DEFAULT_FORGET_AFTER_POLLS = 3;

/**
 * `discovered:` what every camera the onvif service knows gets when the controller adopts it
 * (ONVIF_ADOPT=true): the settings of a configured camera, the `onvif` source's profile and RTSP
 * credentials, which cameras (allow / deny), and after how many polls without it its worker goes.
 */
const discoveredSchema = z.object({
  ...cameraSettings,
  profile: z.string().min(1).max(100).optional(),
  ...credentials,
  allow: discoveredMatch.optional(),
  deny: discoveredMatch.optional(),
  forget_after_polls: z.number({ message: 'expected an integer 1..100 (polls)' }).int('expected an integer 1..100 (polls)').min(1, 'expected an integer 1..100 (polls)').max(100, 'expected an integer 1..100 (polls)').default(DEFAULT_FORGET_AFTER_POLLS),
}).strict();

export const camerasFileSchema = z.object({
  // Empty only with a discovered: section: a controller whose cameras all come from the onvif service.
  cameras: z.array(cameraSchema).max(MAX_CAMERAS),
  discovered: discoveredSchema.optional(),
}).strict().superRefine((v, ctx) => {
  if (v.cameras.length === 0 && !v.discovered) {
    ctx.addIssue({ code: 'custom', path: ['cameras'], message: 'expected at least one camera, or a discovered: section (then every camera comes from the onvif service, with ONVIF_ADOPT=true)' });
  }
  const seen = new Set<string>();
  v.cameras.forEach((c, i) => {
    if (seen.has(c.id)) ctx.addIssue({ code: 'custom', path: ['cameras', i, 'id'], message: `expected a unique id ("${c.id}" is used twice)` });
    seen.add(c.id);
  });
});

/** The source of one camera, normalised: onvif becomes rtsp with its static URI. */
export type SourceConfig =
  | { kind: 'rtsp'; url: string }
  | OnvifSourceConfig
  | { kind: 'mjpeg' | 'snapshot'; url: string; username?: string; password?: string }
  | { kind: 'synthetic'; periodS: number; clip?: string };

/** An ONVIF camera whose RTSP URI is asked of the onvif service (sources/onvif.ts). */
export interface OnvifSourceConfig {
  kind: 'onvif';
  /** The onvif service (ONVIF_URL). */
  serviceUrl?: string;
  device?: string;
  address?: string;
  profile?: string;
  /** Used until the service first answers. */
  streamUri?: string;
  /** RTSP credentials, added to the URI here (the service never hands any out). */
  username?: string;
  password?: string;
}

/** One camera, validated and defaulted. */
export interface CameraConfig {
  id: string;
  source: SourceConfig;
  fps: number;
  width: number;
  height: number;
  heartbeatTimeoutMs: number;
  /** Size of the raw detect frames (RGB24, letterboxed); undefined: JPEG only. */
  detect?: DetectSize;
}

/** The size of a camera's raw detect frames, in pixels. */
export interface DetectSize { width: number; height: number }

/** Test-only fault injection, from `CAMERA_FAILPOINT=hang:<cameraId>[:<afterFrames>]`. */
export interface Failpoint {
  kind: 'hang';
  camera: string;
  /** Frames each run delivers before hanging (default 3). */
  afterFrames: number;
}

export interface CameraEnvConfig {
  port: number;
  host: string;
  camerasFile?: string;
  failpoint?: Failpoint;
  /** Where the frame rings of detect cameras go (`<camera>.ring`); see frame-ring.ts. */
  framesDir: string;
  /** True when framesDir is this process's own per-run directory (removed at stop). */
  framesDirPerRun: boolean;
  /** The onvif service, for `onvif: {device | address}` sources (ONVIF_URL). */
  onvifUrl?: string;
  /** ONVIF_ADOPT=true: every camera the onvif service knows gets a worker, at run time (discovered.ts). */
  onvifAdopt: boolean;
  /** DATA_DIR (optional): only the crash-at-start failpoint writes there. */
  dataDir?: string;
  /** EDGEVISOR_FAILPOINTS=1: POST /failpoints/<name> (apps/common/src/failpoints.ts; tests only). */
  failpoints: boolean;
}

/**
 * Default frames directory: one per run (this pid) in RAM (/dev/shm) when the system has it, so
 * two controllers on one machine (tests, a developer's second copy) never share a ring. GET
 * /cameras names only the ring's file: inference reads it in its own FRAMES_DIR, so both apps are
 * given the same one (compose: FRAMES_DIR=/frames, a tmpfs; npm start: one per run in /dev/shm).
 */
export function defaultFramesDir(pid = process.pid): string {
  return join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), `${FRAMES_DIR_PREFIX}${pid}`);
}
/** Per-run frames directories are named this plus the pid (stale ones are removed at start). */
export const FRAMES_DIR_PREFIX = 'edgevisor-frames-';

const envSchema = z.object({
  PORT: envVars.port(8081),
  HOST: envVars.host('127.0.0.1'),
  CAMERAS_FILE: envVars.optionalString(),
  FRAMES_DIR: envVars.optionalString(),
  ONVIF_URL: z.string().regex(/^https?:\/\/[^@/]+(\/.*)?$/, 'expected the onvif service URL, http://host:port').optional(),
  ONVIF_ADOPT: z.enum(['true', 'false'], { message: 'expected true or false' }).optional(),
  CAMERA_FAILPOINT: z.string().regex(/^hang:[A-Za-z0-9_-]+(:\d+)?$/, 'expected hang:<cameraId>[:<afterFrames>]').optional(),
  DATA_DIR: envVars.optionalString(),
  ...failpointsEnv,
});

export function loadEnvConfig(env: Env): Readonly<CameraEnvConfig> {
  const e = parseEnv(envSchema, env);
  let failpoint: Failpoint | undefined;
  if (e.CAMERA_FAILPOINT) {
    const [, camera, after] = e.CAMERA_FAILPOINT.split(':');
    failpoint = { kind: 'hang', camera: camera!, afterFrames: after ? Number(after) : 3 };
  }
  const framesDir = e.FRAMES_DIR ?? defaultFramesDir();
  const onvifAdopt = e.ONVIF_ADOPT === 'true';
  if (onvifAdopt && !e.ONVIF_URL) throw new EdgevisorError(codes.SPEC_INVALID, 'ONVIF_ADOPT: true needs the onvif service: set ONVIF_URL in the camera app\'s environment');
  return Object.freeze({ port: e.PORT, host: e.HOST, camerasFile: e.CAMERAS_FILE, failpoint, framesDir, framesDirPerRun: !e.FRAMES_DIR, onvifUrl: e.ONVIF_URL, dataDir: e.DATA_DIR, failpoints: e.EDGEVISOR_FAILPOINTS === '1', onvifAdopt });
}

/** The shipped motion model's input (models/motion.onnx): the default camera's detect size. */
export const DEFAULT_DETECT: DetectSize = Object.freeze({ width: 320, height: 320 });

/** The built-in camera when no CAMERAS_FILE is given: the Quick start default, raw detect frames on. */
export const defaultCameras: readonly CameraConfig[] = Object.freeze([
  normaliseCamera({ id: 'synthetic-1', source: { synthetic: { period_s: 12 } }, fps: 5, width: 640, height: 360, detect: { ...DEFAULT_DETECT } }),
]);

/** Which discovered cameras an allow / deny names (config.ts `discovered.allow|deny`). */
export interface DiscoveredMatch { ids?: readonly string[]; manufacturers?: readonly string[] }

/** The `discovered:` section, validated and defaulted (see discovered.ts for how it is used). */
export interface DiscoveredConfig {
  /** What each adopted camera gets: a camera's settings (as in the file, defaults applied), the onvif source's profile and RTSP credentials. */
  settings: Readonly<Omit<z.infer<typeof discoveredSchema>, 'allow' | 'deny' | 'forget_after_polls'>>;
  /** Only these are adopted (no allow: every camera). */
  allow?: DiscoveredMatch;
  /** Never these (deny wins over allow). */
  deny?: DiscoveredMatch;
  /** Polls in a row a camera may be missing from the onvif service's list before its worker is removed. */
  forgetAfterPolls: number;
}

/** A whole cameras file: the configured cameras and the optional `discovered:` section. */
export interface CamerasFile {
  cameras: readonly CameraConfig[];
  discovered?: Readonly<DiscoveredConfig>;
}

/** What a discovered camera gets without a `discovered:` section: a configured `onvif: { device }` camera's defaults. */
export const defaultDiscovered: Readonly<DiscoveredConfig> = Object.freeze(normaliseDiscovered(discoveredSchema.parse({})));

/**
 * A cameras file that lists no camera is for a controller whose cameras all come from the onvif
 * service: without ONVIF_ADOPT it would have none. The app refuses to start so, and
 * check-cameras (edgevisorctl apply) refuses such a file first.
 */
export function noCameraProblem(cameras: readonly CameraConfig[], env: Pick<CameraEnvConfig, 'onvifAdopt'>): string | undefined {
  if (cameras.length > 0 || env.onvifAdopt) return undefined;
  return 'CAMERAS_FILE: cameras: is empty and ONVIF_ADOPT is not true, so this controller would have no camera: list one, or set ONVIF_ADOPT=true (with ONVIF_URL) to adopt the onvif service\'s cameras';
}

/** Loads and validates a cameras file (errors: SPEC_INVALID, `cameras.yaml:LINE field: ...`). */
export async function loadCamerasFile(path: string, opts: { onvifUrl?: string } = {}): Promise<Readonly<CamerasFile>> {
  const file = loadCheckedYaml(path, camerasFileSchema);
  // Every password and URL userinfo of the file is redacted from every text from now on.
  registerSecretsIn(file);
  return fileConfig(file, opts.onvifUrl, `${path} `);
}

/** The configured cameras of a cameras file (see loadCamerasFile). */
export async function loadCameras(path: string, opts: { onvifUrl?: string } = {}): Promise<readonly CameraConfig[]> {
  return (await loadCamerasFile(path, opts)).cameras;
}

/** Validates a cameras file given as data (tests, library use). */
export function parseCamerasFile(value: unknown, opts: { onvifUrl?: string } = {}): Readonly<CamerasFile> {
  registerSecretsIn(value);
  return fileConfig(camerasFileSchema.parse(value), opts.onvifUrl, '');
}

/** Validates cameras given as data (tests, library use). */
export function parseCameras(value: unknown, opts: { onvifUrl?: string } = {}): readonly CameraConfig[] {
  return parseCamerasFile(value, opts).cameras;
}

function fileConfig(file: z.infer<typeof camerasFileSchema>, onvifUrl: string | undefined, where: string): Readonly<CamerasFile> {
  const cameras = Object.freeze(file.cameras.map((c, i) => normaliseCamera(c, onvifUrl, `${where}cameras.${i}.source.onvif`)));
  return Object.freeze({ cameras, ...(file.discovered ? { discovered: Object.freeze(normaliseDiscovered(file.discovered)) } : {}) });
}

function normaliseDiscovered(d: z.infer<typeof discoveredSchema>): DiscoveredConfig {
  const { allow, deny, forget_after_polls: forgetAfterPolls, ...settings } = d;
  return { settings: Object.freeze(settings), ...(allow ? { allow: Object.freeze({ ...allow }) } : {}), ...(deny ? { deny: Object.freeze({ ...deny }) } : {}), forgetAfterPolls };
}

/**
 * The config of the camera the onvif service knows as `id`: source `onvif: { device: id }` with
 * the section's profile and credentials, and its settings. Throws SPEC_INVALID when the id is not
 * one a camera can have (the service's ids are made to fit: see apps/onvif/src/address.ts).
 */
export function discoveredCamera(id: string, onvifUrl: string, d: Readonly<DiscoveredConfig> = defaultDiscovered): CameraConfig {
  if (!cameraId.pattern.test(id)) throw new EdgevisorError(codes.SPEC_INVALID, `discovered camera "${id.slice(0, 63)}": expected ${cameraId.expected}`);
  const { profile, username, password, ...settings } = d.settings;
  const onvif = { device: id, ...(profile ? { profile } : {}), ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}) };
  return normaliseCamera({ id, source: { onvif }, ...settings }, onvifUrl, `discovered camera ${id}: source.onvif`);
}

function normaliseCamera(c: z.infer<typeof cameraSchema>, onvifUrl?: string, where = 'source.onvif'): CameraConfig {
  const s = c.source;
  let source: SourceConfig;
  if ('rtsp' in s) source = { kind: 'rtsp', url: s.rtsp.url };
  else if ('onvif' in s && !s.onvif.device && !s.onvif.address) source = { kind: 'rtsp', url: s.onvif.stream_uri! };
  else if ('onvif' in s) {
    if (!onvifUrl) throw new EdgevisorError(codes.SPEC_INVALID, `${where}: device/address needs the onvif service: set ONVIF_URL in the camera app's environment`);
    const o = s.onvif;
    source = { kind: 'onvif', serviceUrl: onvifUrl, device: o.device, address: o.address, profile: o.profile, streamUri: o.stream_uri, username: o.username, password: o.password };
  }
  else if ('mjpeg' in s) source = { kind: 'mjpeg', ...s.mjpeg };
  else if ('snapshot' in s) source = { kind: 'snapshot', ...s.snapshot };
  else source = { kind: 'synthetic', periodS: s.synthetic.period_s, ...(s.synthetic.clip ? { clip: s.synthetic.clip } : {}) };
  // Network sources need time to connect (RTSP: DESCRIBE/SETUP/PLAY, probing, first keyframe:
  // 2-3 s); a synthetic camera has no excuse to be slow.
  const floorMs = source.kind === 'synthetic' ? 3000 : 10_000;
  const heartbeatTimeoutMs = c.heartbeat_timeout_ms ?? Math.max(floorMs, Math.round((10 * 1000) / c.fps));
  const detect = c.detect ? Object.freeze({ width: c.detect.width, height: c.detect.height }) : undefined;
  return Object.freeze({ id: c.id, source, fps: c.fps, width: c.width, height: c.height, heartbeatTimeoutMs, ...(detect ? { detect } : {}) });
}
