/**
 * Danger-zone rules as a pure state machine: (state, camera, detections, now) -> events to raise.
 * No I/O and no clock of its own, so tests drive it frame by frame with any timestamps.
 *
 * An episode of (camera, zone, rule) starts when a matching detection's anchor point is inside the
 * polygon, survives gaps shorter than `exitGraceMs` (detectors flicker), and ends after a longer
 * absence. It raises exactly one event, when it has lasted `dwellMs`.
 */
import type { Detection } from '../model/types.ts';

/** [x, y] in normalized frame coordinates (0..1, origin top-left). */
export type Point = readonly [number, number];

/**
 * A rule: `cls` inside the zone for at least `dwellMs` raises an event. `cooldownMs` (default 0):
 * after an event, the rule raises no other for this long, even for a new episode (a person
 * stepping in and out of a zone edge would otherwise raise one per step).
 */
export interface ZoneRule { cls: string; dwellMs: number; minScore: number; exitGraceMs: number; cooldownMs?: number }

export interface Zone { id: string; polygon: readonly Point[]; rules: readonly ZoneRule[] }

/** The validated zones file: zones per camera id. */
export interface ZonesConfig { cameras: Readonly<Record<string, { zones: readonly Zone[] }>> }

/** What the tracker asks the pipeline to record. */
export interface ZoneHit { camera: string; zone: Zone; cls: string; score: number; boxes: Detection[]; sinceMs: number }

/** `open` false: the episode ended but its rule's cooldown (from `lastEventAt`) still runs. */
interface Episode { since: number; lastSeen: number; fired: boolean; open: boolean; lastEventAt?: number }
export type DwellState = Map<string, Episode>;

export const createDwellState = (): DwellState => new Map();

/** Ray casting; points on the boundary may fall either way, which is fine at frame resolution. */
export function pointInPolygon([x, y]: Point, poly: readonly Point[]): boolean {
  return insidePolygon(x, y, poly);
}

function insidePolygon(x: number, y: number, poly: readonly Point[]): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const pi = poly[i]!;
    const pj = poly[j]!;
    const xi = pi[0], yi = pi[1], xj = pj[0], yj = pj[1];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Where a box stands: the bottom centre (feet of a person, base of a load). */
export const anchorOf = (d: Detection): Point => [(d.x1 + d.x2) / 2, d.y2];

/** Episode keys per zone and camera, one per rule, made once: a frame builds no strings. */
const episodeKeys = new WeakMap<Zone, Map<string, string[]>>();
function keysOf(zone: Zone, camera: string): string[] {
  let byCamera = episodeKeys.get(zone);
  if (!byCamera) episodeKeys.set(zone, (byCamera = new Map()));
  let keys = byCamera.get(camera);
  if (!keys) byCamera.set(camera, (keys = zone.rules.map((_, r) => `${camera}\u0000${zone.id}\u0000${r}`)));
  return keys;
}

const NO_HITS: readonly ZoneHit[] = Object.freeze([]);

/**
 * Applies one frame of one camera to the state; returns the events to raise now. Runs on every
 * frame, so a frame without a new event allocates nothing here (the result is a shared empty array;
 * callers only read it): at full model speed per-frame garbage shows up as collector work.
 */
export function updateDwell(state: DwellState, zones: readonly Zone[], camera: string, detections: readonly Detection[], now: number): readonly ZoneHit[] {
  let hits: ZoneHit[] | undefined;
  for (const zone of zones) {
    const keys = keysOf(zone, camera);
    for (let r = 0; r < zone.rules.length; r++) {
      const rule = zone.rules[r]!;
      const key = keys[r]!;
      const cooldown = rule.cooldownMs ?? 0;
      let ep = state.get(key);
      if (ep?.open && now - ep.lastSeen > rule.exitGraceMs) {
        // The episode is over; its record stays only while the rule's cooldown runs.
        if (cooldown > 0 && ep.lastEventAt !== undefined && now - ep.lastEventAt < cooldown) ep.open = false;
        else { state.delete(key); ep = undefined; }
      }
      if (ep && !ep.open && now - ep.lastEventAt! >= cooldown) {
        state.delete(key);
        ep = undefined;
      }
      let seen = false;
      for (const d of detections) {
        if (d.cls === rule.cls && d.score >= rule.minScore && insidePolygon((d.x1 + d.x2) / 2, d.y2, zone.polygon)) {
          seen = true;
          break;
        }
      }
      if (!seen) continue;
      if (!ep || !ep.open) {
        ep = { since: now, lastSeen: now, fired: false, open: true, ...(ep?.lastEventAt !== undefined ? { lastEventAt: ep.lastEventAt } : {}) };
        state.set(key, ep);
      }
      ep.lastSeen = now;
      if (!ep.fired && now - ep.since >= rule.dwellMs && (ep.lastEventAt === undefined || now - ep.lastEventAt >= cooldown)) {
        ep.fired = true;
        ep.lastEventAt = now;
        const inside = detections.filter((d) => d.cls === rule.cls && d.score >= rule.minScore && pointInPolygon(anchorOf(d), zone.polygon));
        (hits ??= []).push({ camera, zone, cls: rule.cls, score: Math.max(...inside.map((d) => d.score)), boxes: inside, sinceMs: ep.since });
      }
    }
  }
  return hits ?? NO_HITS;
}
