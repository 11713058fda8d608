// Durations as written in tree files, to milliseconds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration } from '../../supervisor/src/spec/duration.ts';
import { EdgevisorError, codes } from '../../supervisor/src/errors.ts';

test('units, fractions, compounds and bare numbers', () => {
  const cases: Array<[string | number, number]> = [
    ['500ms', 500], ['2s', 2_000], ['1.5s', 1_500], ['1m', 60_000], ['1h', 3_600_000],
    ['1m30s', 90_000], ['1h2m3s4ms', 3_723_004], ['0s', 0], ['0', 0], [' 2s ', 2_000], ['0.25ms', 0],
    [250, 250], [0, 0], [1.6, 2],
  ];
  for (const [input, ms] of cases) assert.equal(parseDuration(input), ms, `parseDuration(${JSON.stringify(input)})`);
});

test('anything else is SPEC_INVALID with the accepted form and the value given', () => {
  const bad: Array<[unknown, string]> = [
    ['fast', '"fast"'], ['500', '"500"'], ['5 s', '"5 s"'], ['2S', '"2S"'], ['-1s', '"-1s"'], ['', '""'],
    ['1d', '"1d"'], [-5, '-5'], [Number.NaN, 'NaN'], [Number.POSITIVE_INFINITY, 'Infinity'], [null, 'null'],
  ];
  for (const [input, shown] of bad) {
    assert.throws(() => parseDuration(input as string), (e: EdgevisorError) => {
      assert.ok(e instanceof EdgevisorError);
      assert.equal(e.code, codes.SPEC_INVALID);
      assert.equal(e.message, `expected a duration like "500ms" or "2s", got ${shown}`);
      return true;
    }, `parseDuration(${String(input)})`);
  }
});

test('formatDuration writes what parseDuration reads', () => {
  for (const ms of [0, 1, 500, 1_000, 1_500, 60_000, 90_000, 3_723_004]) {
    assert.equal(parseDuration(formatDuration(ms)), ms);
  }
  assert.equal(formatDuration(90_000), '1m30s');
  assert.equal(formatDuration(500), '500ms');
});
