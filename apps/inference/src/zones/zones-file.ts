/**
 * The zones file (ZONES_FILE, YAML). For a safety product a typo that silently disables a danger
 * zone is the worst failure, so everything that can be checked is, at start, with errors naming
 * the file, line and field and what is accepted:
 * - the schema: unknown keys, types, ranges; durations as in the tree file ("500ms", "2s", "1m30s",
 *   or a number of ms: supervisor/src/spec/duration.ts) within 0..24h (dwell) and 0..1h (exit_grace);
 * - polygons: 3..256 points in 0..1, no repeated consecutive point, a non-zero area, no
 *   self-intersection (O(n^2) edge pairs, at most 32k for 256 points: microseconds);
 * - unique zone ids per camera, one rule per class per zone;
 * - cross-references when known at start: a camera that is not in CAMERAS, a class the model
 *   cannot report (with a "did you mean"). Cameras learned later from the camera controller are
 *   checked then by `unknownZoneCameras` (a warning on /healthz and a metric, see app.ts).
 *
 * Example:
 *
 *   cameras:
 *     dock:
 *       zones:
 *         - id: press
 *           polygon: [[0.1, 0.1], [0.6, 0.1], [0.6, 0.9], [0.1, 0.9]]
 *           rules:
 *             - class: motion      # or a YOLO class name, e.g. person
 *               dwell: 2s          # "500ms" / "2s" / "1m30s", or ms as a number
 *               min_score: 0.3     # default 0.25
 *               exit_grace: 1s     # absence shorter than this keeps the episode (default 1s)
 *               cooldown: 30s      # no other event of this rule for this long after one (default 0)
 */
import { z } from 'zod';
import { closest, loadCheckedYaml, parseCheckedYaml, type SpecIssue } from '../../../common/src/index.ts';
import { DURATION_EXPECTED, describeValue, parseDuration } from 'edgevisor';
import type { Point, ZonesConfig } from './dwell.ts';

const HOUR = 3_600_000;

/** A duration field: the tree's syntax, bounded (past 2^31-1 ms a timer misfires; past a day it is a typo). */
const duration = (def: number, maxMs: number, maxText: string) =>
  z.unknown().optional().transform((v, ctx): number => {
    if (v === undefined) return def;
    let ms: number | undefined;
    if (typeof v === 'number' || typeof v === 'string') {
      try { ms = parseDuration(v); } catch { /* reported below */ }
    }
    if (ms === undefined || !Number.isFinite(ms)) {
      ctx.addIssue({ code: 'custom', message: `${DURATION_EXPECTED} (or a number of milliseconds), got ${describeValue(v)}` });
      return z.NEVER;
    }
    if (ms > maxMs) {
      ctx.addIssue({ code: 'custom', message: `expected a duration of at most ${maxText}, got ${describeValue(v)}` });
      return z.NEVER;
    }
    return ms;
  });

const UNIT = 'expected a number 0..1 (a fraction of the frame width or height)';
const unit = z.number({ error: UNIT }).min(0, UNIT).max(1, UNIT);
const CAMERA_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

const rule = z.strictObject({
  class: z.string({ error: 'expected a class name such as motion or person' }).min(1, 'expected a class name such as motion or person').max(64, 'expected a class name of at most 64 characters'),
  dwell: duration(0, 24 * HOUR, '24h'),
  min_score: z.number({ error: 'expected a number 0..1' }).min(0, 'expected a number 0..1').max(1, 'expected a number 0..1').default(0.25),
  exit_grace: duration(1000, HOUR, '1h'),
  cooldown: duration(0, 24 * HOUR, '24h'),
});

const point = z.tuple([unit, unit], { error: 'expected a point [x, y] with x and y in 0..1' });

const zone = z.strictObject({
  id: z.string({ error: 'expected a zone id of letters, digits, _ . -' }).regex(/^[A-Za-z0-9_.-]{1,64}$/, 'expected a zone id of 1..64 letters, digits, _ . -'),
  polygon: z.array(point, { error: 'expected a list of [x, y] points in 0..1' }).min(3, 'expected at least 3 points (a polygon)').max(256, 'expected at most 256 points'),
  rules: z.array(rule, { error: 'expected a list of rules' }).min(1, 'expected at least one rule').max(32, 'expected at most 32 rules'),
});

const cameraZones = z.strictObject({ zones: z.array(zone, { error: 'expected a list of zones' }).max(64, 'expected at most 64 zones per camera').default([]) }, { error: 'expected a mapping with zones: [...]' });

export const zonesSchema = z.strictObject({
  cameras: z.record(z.string(), cameraZones, { error: 'expected a mapping of camera id -> { zones: [...] }' }).default({}),
}, { error: 'expected a mapping with cameras: { <camera id>: { zones: [...] } }' });

type ZonesFile = z.infer<typeof zonesSchema>;

/** What is known at start to check the file against; a missing list is not checked (yet). */
export interface ZonesContext {
  /** Camera ids (CAMERAS). */
  cameras?: readonly string[];
  /** Classes the model can report (motion: ["motion"]; YOLO: its names, narrowed by CLASSES). */
  classes?: readonly string[];
}

/** Twice the signed area (shoelace). */
function area2(poly: readonly Point[]): number {
  let a = 0;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) a += (poly[j]![0] * poly[i]![1]) - (poly[i]![0] * poly[j]![1]);
  return a;
}

const orient = (a: Point, b: Point, c: Point) => Math.sign((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]));
const onSeg = (a: Point, b: Point, p: Point) => Math.min(a[0], b[0]) <= p[0] && p[0] <= Math.max(a[0], b[0]) && Math.min(a[1], b[1]) <= p[1] && p[1] <= Math.max(a[1], b[1]);

function segmentsIntersect(a: Point, b: Point, c: Point, d: Point): boolean {
  const o1 = orient(a, b, c), o2 = orient(a, b, d), o3 = orient(c, d, a), o4 = orient(c, d, b);
  if (o1 !== o2 && o3 !== o4) return true;
  return (o1 === 0 && onSeg(a, b, c)) || (o2 === 0 && onSeg(a, b, d)) || (o3 === 0 && onSeg(c, d, a)) || (o4 === 0 && onSeg(c, d, b));
}

/** What is wrong with a polygon's shape, or undefined. Exported for tests. */
export function polygonProblem(poly: readonly Point[]): string | undefined {
  for (let i = 0; i < poly.length; i++) {
    const p = poly[i]!, q = poly[(i + 1) % poly.length]!;
    if (p[0] === q[0] && p[1] === q[1]) return `point ${(i + 1) % poly.length} repeats point ${i}: expected distinct consecutive points`;
  }
  const n = poly.length;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      // Adjacent edges share a point by construction.
      if (j === i + 1 || (i === 0 && j === n - 1)) continue;
      if (segmentsIntersect(poly[i]!, poly[(i + 1) % n]!, poly[j]!, poly[(j + 1) % n]!)) {
        return `edge ${i}-${(i + 1) % n} crosses edge ${j}-${(j + 1) % n}: expected a simple polygon (points in order around it, edges not crossing)`;
      }
    }
  }
  if (Math.abs(area2(poly)) / 2 < 1e-6) return 'the polygon has no area (its points are on one line): expected a polygon enclosing part of the frame';
  return undefined;
}

const hint = (name: string, known: readonly string[]) => {
  const c = closest(name, known);
  return `${c ? `did you mean ${JSON.stringify(c)}? ` : ''}known: ${known.length ? known.join(', ') : 'none'}`;
};

/** Every problem beyond the schema, with the path of its field (for the line). Exported for tests. */
export function zonesIssues(file: ZonesFile, ctx: ZonesContext = {}): SpecIssue[] {
  const issues: SpecIssue[] = [];
  for (const [cam, { zones }] of Object.entries(file.cameras)) {
    if (!CAMERA_ID.test(cam)) issues.push({ path: ['cameras', cam], message: `expected a camera id of letters, digits, _ or - (max 63), got ${JSON.stringify(cam)}` });
    else if (ctx.cameras && !ctx.cameras.includes(cam)) issues.push({ path: ['cameras', cam], message: `unknown camera ${JSON.stringify(cam)}: its zones would never see a frame; ${hint(cam, ctx.cameras)}` });
    const ids = new Map<string, number>();
    zones.forEach((zn, i) => {
      const first = ids.get(zn.id);
      if (first !== undefined) issues.push({ path: ['cameras', cam, 'zones', i, 'id'], message: `expected a unique zone id: "${zn.id}" is already zones[${first}] of camera ${cam}` });
      else ids.set(zn.id, i);
      const bad = polygonProblem(zn.polygon);
      if (bad) issues.push({ path: ['cameras', cam, 'zones', i, 'polygon'], message: bad });
      const classes = new Map<string, number>();
      zn.rules.forEach((r, j) => {
        const path = ['cameras', cam, 'zones', i, 'rules', j, 'class'];
        if (classes.has(r.class)) issues.push({ path, message: `expected one rule per class: "${r.class}" already has rules[${classes.get(r.class)}] in zone ${zn.id}` });
        else classes.set(r.class, j);
        if (ctx.classes && !ctx.classes.includes(r.class)) issues.push({ path, message: `unknown class ${JSON.stringify(r.class)}: the model never reports it, so this rule would never fire; ${hint(r.class, ctx.classes)}` });
      });
    });
  }
  return issues;
}

/** Converts the parsed YAML (snake_case) to the tracker's shapes. */
export function toZonesConfig(parsed: ZonesFile): ZonesConfig {
  const cameras: Record<string, { zones: ZonesConfig['cameras'][string]['zones'] }> = {};
  for (const [id, cam] of Object.entries(parsed.cameras)) {
    cameras[id] = {
      zones: cam.zones.map((zn) => ({
        id: zn.id,
        polygon: zn.polygon,
        rules: zn.rules.map((r) => ({ cls: r.class, dwellMs: r.dwell, minScore: r.min_score, exitGraceMs: r.exit_grace, ...(r.cooldown ? { cooldownMs: r.cooldown } : {}) })),
      })),
    };
  }
  return Object.freeze({ cameras });
}

/** Loads and validates a zones file; a missing path means no zones. Throws SPEC_INVALID (file:line field: ...). */
export async function loadZones(path: string | undefined, ctx: ZonesContext = {}): Promise<ZonesConfig> {
  if (!path) return { cameras: {} };
  return toZonesConfig(loadCheckedYaml(path, zonesSchema, (v) => zonesIssues(v, ctx)));
}

/** The same for text in memory (tests, fuzzing); `file` names it in the messages. */
export function parseZones(text: string, file: string, ctx: ZonesContext = {}): ZonesConfig {
  return toZonesConfig(parseCheckedYaml(text, file, zonesSchema, (v) => zonesIssues(v, ctx)));
}

/** Cameras the zones name that are not in `known` (learned after start, from the camera controller). */
export function unknownZoneCameras(zones: ZonesConfig, known: readonly string[]): string[] {
  return Object.keys(zones.cameras).filter((c) => !known.includes(c) && zones.cameras[c]!.zones.length > 0);
}
