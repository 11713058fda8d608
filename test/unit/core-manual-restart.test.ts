// The pure decision behind a technician's restart (supervisor/src/core/manual-restart.ts): which
// siblings it takes with it under each strategy, and the words the API and the CLI say.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeManualRestart, planManualRestart, type SiblingView } from '../../supervisor/src/core/manual-restart.ts';

const up = (id: string, extra: Partial<SiblingView> = {}): SiblingView => ({ id, up: true, manuallyStopped: false, restart: 'permanent', ...extra });
const kids = [up('camera'), up('inference'), up('recorder')];

describe('planManualRestart', () => {
  test('rest_for_one: the child and every sibling after it, in start order', () => {
    const plan = planManualRestart('rest_for_one', kids, 'inference', false);
    assert.deepEqual(plan.restarting, ['inference', 'recorder']);
    assert.equal(describeManualRestart(plan), 'restarting inference, then recorder (rest_for_one)');
    const first = planManualRestart('rest_for_one', kids, 'camera', false);
    assert.equal(describeManualRestart(first), 'restarting camera, then inference, then recorder (rest_for_one)');
    assert.deepEqual(planManualRestart('rest_for_one', kids, 'recorder', false).restarting, ['recorder']);
  });

  test('one_for_all: every sibling, before and after, in start order; one_for_one: the child alone', () => {
    const all = planManualRestart('one_for_all', kids, 'inference', false);
    assert.deepEqual(all.restarting, ['camera', 'inference', 'recorder']);
    assert.equal(describeManualRestart(all), 'restarting camera, then inference, then recorder (one_for_all)');
    const one = planManualRestart('one_for_one', kids, 'inference', false);
    assert.deepEqual(one.restarting, ['inference']);
    assert.equal(describeManualRestart(one), 'restarting inference (one_for_one)');
  });

  test('only: the named child alone, and the answer says what the strategy would have taken', () => {
    const plan = planManualRestart('rest_for_one', kids, 'camera', true);
    assert.deepEqual(plan.restarting, ['camera']);
    assert.deepEqual(plan.spared, ['inference', 'recorder']);
    assert.equal(describeManualRestart(plan), 'restarting camera only (rest_for_one would also restart inference, recorder)');
    assert.equal(describeManualRestart(planManualRestart('rest_for_one', kids, 'recorder', true)), 'restarting recorder only');
  });

  test('siblings that are down or manually stopped are left alone; a temporary one is stopped, not restarted', () => {
    const mixed = [up('camera'), up('inference', { up: false }), up('recorder', { manuallyStopped: true, up: false }), up('uploader', { restart: 'temporary' }), up('web')];
    const plan = planManualRestart('rest_for_one', mixed, 'camera', false);
    assert.deepEqual(plan.restarting, ['camera', 'web']);
    assert.deepEqual(plan.stopping, ['uploader']);
    assert.equal(describeManualRestart(plan), 'restarting camera, then web (rest_for_one); stopping uploader (restart: temporary)');
  });

  test('the root (no parent) restarts itself, with no strategy named', () => {
    const plan = planManualRestart(null, [], 'box', false);
    assert.deepEqual(plan, { child: 'box', strategy: null, only: false, restarting: ['box'], stopping: [], spared: [] });
    assert.equal(describeManualRestart(plan), 'restarting box');
  });
});
