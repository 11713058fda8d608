import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDwellState, pointInPolygon, updateDwell, type Zone } from '../../apps/inference/src/zones/dwell.ts';
import { loadZones } from '../../apps/inference/src/zones/zones-file.ts';
import type { Detection } from '../../apps/inference/src/model/types.ts';

const zone: Zone = {
  id: 'press',
  polygon: [[0.5, 0.5], [1, 0.5], [1, 1], [0.5, 1]],
  rules: [{ cls: 'person', dwellMs: 1000, minScore: 0.5, exitGraceMs: 500 }],
};
/** A person whose feet stand at (x, y). */
const person = (x: number, y: number, score = 0.9): Detection => ({ x1: x - 0.05, y1: y - 0.3, x2: x + 0.05, y2: y, cls: 'person', score });

describe('dwell rules', () => {
  test('cooldown: after an event, a new episode of the same rule raises nothing until the cooldown is over', () => {
    const z: Zone = { ...zone, rules: [{ cls: 'person', dwellMs: 1000, minScore: 0.5, exitGraceMs: 500, cooldownMs: 10_000 }] };
    const s = createDwellState();
    const fired: number[] = [];
    // In for 2 s, out for 1 s, in again, ... for 20 s: without a cooldown an event every 3 s.
    for (let t = 0; t <= 20_000; t += 200) {
      const inside = t % 3000 < 2000;
      if (updateDwell(s, [z], 'cam1', inside ? [person(0.7, 0.8)] : [person(0.2, 0.8)], t).length) fired.push(t);
    }
    assert.deepEqual(fired, [1000, 13000], 'the first episode, then the first dwell completed after 10 s');
  });

  test('point in polygon, concave too', () => {
    const l: [number, number][] = [[0, 0], [1, 0], [1, 0.4], [0.4, 0.4], [0.4, 1], [0, 1]];
    assert.equal(pointInPolygon([0.2, 0.8], l), true);
    assert.equal(pointInPolygon([0.8, 0.8], l), false);
  });

  test('one event per dwell episode; a short gap keeps the episode; leaving and re-entering gives another', () => {
    const s = createDwellState();
    const step = (t: number, dets: Detection[]) => updateDwell(s, [zone], 'cam1', dets, t).length;
    const fired: number[] = [];
    // Feet at y 0.8 inside; head inside too but anchor is the bottom centre.
    for (let t = 0; t <= 3000; t += 200) {
      const dets = t === 600 ? [] : [person(0.7, 0.8)]; // one missed frame (flicker) at 600
      if (step(t, dets)) fired.push(t);
    }
    assert.deepEqual(fired, [1000], 'exactly one event, when the dwell completed');
    // Leaves for longer than the grace, comes back: a new episode with its own dwell.
    for (let t = 3200; t <= 4000; t += 200) assert.equal(step(t, [person(0.2, 0.8)]), 0, 'outside the zone');
    const again: number[] = [];
    for (let t = 4200; t <= 6000; t += 200) if (step(t, [person(0.7, 0.9)])) again.push(t);
    assert.deepEqual(again, [5200]);
  });

  test('class, score and anchor must all match', () => {
    const s = createDwellState();
    for (let t = 0; t <= 2000; t += 100) {
      const hits = updateDwell(s, [zone], 'cam1', [
        { ...person(0.7, 0.8), cls: 'motion' },
        person(0.7, 0.8, 0.3),
        person(0.7, 0.45), // body overlaps the zone, feet do not
      ], t);
      assert.equal(hits.length, 0);
    }
  });

  test('dwell 0 fires on the first frame; state is per camera', () => {
    const z0: Zone = { ...zone, rules: [{ ...zone.rules[0]!, dwellMs: 0 }] };
    const s = createDwellState();
    assert.equal(updateDwell(s, [z0], 'a', [person(0.7, 0.8)], 0).length, 1);
    assert.equal(updateDwell(s, [z0], 'b', [person(0.7, 0.8)], 0).length, 1);
    assert.equal(updateDwell(s, [z0], 'a', [person(0.7, 0.8)], 100).length, 0);
  });
});

describe('zones file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zones-'));
  test('valid file with durations and defaults', async () => {
    const p = join(dir, 'ok.yaml');
    writeFileSync(p, 'cameras:\n  dock:\n    zones:\n      - id: press\n        polygon: [[0.1, 0.1], [0.6, 0.1], [0.6, 0.9]]\n        rules:\n          - class: motion\n            dwell: 1.5s\n');
    const z = await loadZones(p);
    assert.deepEqual(z.cameras.dock!.zones[0]!.rules, [{ cls: 'motion', dwellMs: 1500, minScore: 0.25, exitGraceMs: 1000 }]);
  });

  test('errors name file, line, field and what is accepted', async () => {
    const p = join(dir, 'bad.yaml');
    writeFileSync(p, 'cameras:\n  dock:\n    zones:\n      - id: press\n        polygon: [[0.1, 0.1], [1.6, 0.1], [0.6, 0.9]]\n        rules:\n          - class: motion\n            dwell: soon\n');
    await assert.rejects(loadZones(p), (err: Error & { code?: string; details?: string[] }) => {
      assert.equal(err.code, 'EDGEVISOR_ERR_SPEC_INVALID');
      const all = (err.details ?? []).join('\n');
      assert.match(all, /bad\.yaml:5.*polygon.*0\.\.1/);
      assert.match(all, /bad\.yaml:8.*dwell.*"500ms" or "2s"/);
      return true;
    });
  });
});
