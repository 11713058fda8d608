import assert from 'node:assert/strict';
import { EdgevisorError, codes } from '../../supervisor/src/errors.ts';

/** Runs `fn`, which must throw SPEC_INVALID, and returns its per-problem messages. */
export function specErrors(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof EdgevisorError, String(err));
    assert.equal(err.code, codes.SPEC_INVALID);
    return err.details;
  }
  assert.fail('expected SPEC_INVALID');
}
