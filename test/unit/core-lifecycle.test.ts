import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertTransition, canTransition, childStates, transitions } from '../../supervisor/src/core/lifecycle.ts';
import { IllegalStateError } from '../../supervisor/src/errors.ts';

describe('child lifecycle table', () => {
  test('every state has an entry and only names known states', () => {
    for (const s of childStates) {
      assert.ok(s in transitions, `${s} missing from the table`);
      for (const to of transitions[s]) assert.ok((childStates as readonly string[]).includes(to), `${s} -> unknown ${to}`);
    }
  });

  test('the restart paths a supervisor uses are legal', () => {
    const paths: string[][] = [
      ['stopped', 'starting', 'running'], // ordered start
      ['running', 'backoff', 'starting', 'running'], // crash, restart
      ['running', 'unhealthy', 'stopping', 'backoff', 'starting'], // stall, restart
      ['running', 'stopping', 'stopped', 'starting'], // manual stop / start
      ['running', 'stopping', 'gave_up', 'starting'], // root escalation, technician restarts it
      ['running', 'stopping', 'failed', 'backoff', 'starting'], // nested supervisor escalates
      ['starting', 'unhealthy', 'stopping', 'backoff'], // never passed its startup probes
    ];
    for (const p of paths) for (let i = 1; i < p.length; i++) assert.ok(canTransition(p[i - 1] as never, p[i] as never), `${p[i - 1]} -> ${p[i]}`);
  });

  test('illegal transitions throw IllegalStateError naming the child', () => {
    const illegal: [string, string][] = [
      ['stopped', 'running'], // must pass through starting
      ['running', 'starting'], // a restart goes down first
      ['backoff', 'running'],
      ['stopped', 'gave_up'],
      ['gave_up', 'running'],
    ];
    for (const [from, to] of illegal) {
      assert.throws(
        () => assertTransition('camera', from as never, to as never),
        (err: unknown) => err instanceof IllegalStateError && err.code === 'EDGEVISOR_ERR_ILLEGAL_STATE' && /camera: .* -> /.test(err.message),
      );
    }
  });
});
