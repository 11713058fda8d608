/**
 * The zones file (ZONES_FILE, YAML), validated with zod through loadYamlConfig: errors name the
 * file, line and field. Example:
 *
 *   cameras:
 *     dock:
 *       zones:
 *         - id: press
 *           polygon: [[0.1, 0.1], [0.6, 0.1], [0.6, 0.9], [0.1, 0.9]]
 *           rules:
 *             - class: motion      # or a YOLO class name, e.g. person
 *               dwell: 2s          # ms number or "500ms" / "2s" / "1m"
 *               min_score: 0.3     # default 0.25
 *               exit_grace: 1s     # absence shorter than this keeps the episode (default 1s)
 *               cooldown: 30s      # no other event of this rule for this long after one (default 0)
 */
import { z } from 'zod';
import { loadYamlConfig } from '../../../common/src/index.ts';
import type { ZonesConfig } from './dwell.ts';

const duration = z.union([
  z.number().int().min(0),
  z.string().regex(/^\d+(\.\d+)?(ms|s|m)$/, 'expected a duration like 500ms, 2s or 1m'),
]).transform((v) => {
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(v)!;
  return Math.round(Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000));
});

const unit = z.number().min(0, 'expected a number 0..1').max(1, 'expected a number 0..1');

const rule = z.strictObject({
  class: z.string().min(1, 'expected a class name such as motion or person'),
  dwell: duration.default(0),
  min_score: unit.default(0.25),
  exit_grace: duration.default(1000),
  cooldown: duration.default(0),
});

const zone = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, _ . -'),
  polygon: z.array(z.tuple([unit, unit]), 'expected a list of [x, y] points in 0..1').min(3, 'expected at least 3 points'),
  rules: z.array(rule).min(1, 'expected at least one rule'),
});

export const zonesSchema = z.strictObject({
  cameras: z.record(z.string(), z.strictObject({ zones: z.array(zone).default([]) })).default({}),
});

/** Converts the parsed YAML (snake_case) to the tracker's shapes. */
export function toZonesConfig(parsed: z.infer<typeof zonesSchema>): ZonesConfig {
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

/** Loads and validates a zones file; a missing path means no zones. */
export async function loadZones(path: string | undefined): Promise<ZonesConfig> {
  if (!path) return { cameras: {} };
  return toZonesConfig(await loadYamlConfig(path, zonesSchema));
}
