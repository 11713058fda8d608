import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { findSamples, formatSelector, parseFloatStrict, parsePrometheusText } from '../../supervisor/src/probes/prometheus-text.ts';

describe('Prometheus text parser', () => {
  test('reads HELP, TYPE, comments, plain samples and timestamps', () => {
    const text = [
      '# A free comment that is neither HELP nor TYPE',
      '# HELP frames_total Frames produced.\\nSecond line with a \\\\ backslash.',
      '# TYPE frames_total counter',
      'frames_total 1027',
      '',
      '# TYPE up gauge',
      'up 1 1712345678901',
      'negative_ts 2 -5',
    ].join('\n');
    const p = parsePrometheusText(text);
    assert.deepEqual(p.errors, []);
    assert.equal(p.types.get('frames_total'), 'counter');
    assert.equal(p.types.get('up'), 'gauge');
    assert.equal(p.help.get('frames_total'), 'Frames produced.\nSecond line with a \\ backslash.');
    assert.deepEqual(p.samples, [
      { name: 'frames_total', labels: {}, value: 1027 },
      { name: 'up', labels: {}, value: 1, timestampMs: 1712345678901 },
      { name: 'negative_ts', labels: {}, value: 2, timestampMs: -5 },
    ]);
  });

  test('label values with escaped quotes, backslashes, newlines, braces, commas and #', () => {
    const text = String.raw`weird{path="C:\\dir\\x",msg="say \"hi\"\nbye",odd="a}b,c#d",trail="1",} 3.5e2`;
    const [s] = parsePrometheusText(text).samples;
    assert.ok(s);
    assert.equal(s.value, 350);
    assert.deepEqual(s.labels, { path: 'C:\\dir\\x', msg: 'say "hi"\nbye', odd: 'a}b,c#d', trail: '1' });
  });

  test('+Inf, -Inf, NaN and other float spellings', () => {
    const p = parsePrometheusText('a +Inf\nb -Inf\nc NaN\nd Inf\ne .5\nf -1.5E-3\ng 7');
    assert.deepEqual(p.errors, []);
    const v = Object.fromEntries(p.samples.map((s) => [s.name, s.value]));
    assert.equal(v.a, Infinity);
    assert.equal(v.b, -Infinity);
    assert.ok(Number.isNaN(v.c));
    assert.equal(v.d, Infinity);
    assert.equal(v.e, 0.5);
    assert.equal(v.f, -0.0015);
    assert.equal(v.g, 7);
    assert.equal(parseFloatStrict(''), undefined);
    assert.equal(parseFloatStrict('0x10'), undefined, 'hex is not a Prometheus value');
    assert.equal(parseFloatStrict('12abc'), undefined);
  });

  test('CRLF line ends, blank lines and spaces around labels', () => {
    const p = parsePrometheusText('x_total { a = "1" , b="2" }   4  \r\n\r\n  y 5\r\n# EOF\r\n');
    assert.deepEqual(p.errors, []);
    assert.deepEqual(p.samples.map((s) => [s.name, s.labels, s.value]), [
      ['x_total', { a: '1', b: '2' }, 4],
      ['y', {}, 5],
    ]);
  });

  test('a malformed line is skipped and reported with its line number; the rest still parses', () => {
    const p = parsePrometheusText(['good 1', 'bad{a="unterminated} 2', 'worse{a="1"} notanumber', 'extra 1 2 3', 'dup{a="1",a="2"} 1', 'ts 1 1.5', 'fine{x="y"} 2'].join('\n'));
    assert.deepEqual(p.samples.map((s) => s.name), ['good', 'fine']);
    assert.deepEqual(p.errors.map((e) => e.line), [2, 3, 4, 5, 6]);
    assert.match(p.errors[0]!.message, /unterminated value of label a/);
    assert.match(p.errors[1]!.message, /value "notanumber" is not a number/);
    assert.match(p.errors[3]!.message, /label a given twice/);
    assert.match(p.errors[4]!.message, /timestamp "1.5"/);
  });

  test('findSamples matches the exact name and a subset of labels', () => {
    const text = [
      'frames_total{camera="a",stream="main"} 10',
      'frames_total{camera="a",stream="sub"} 5',
      'frames_total{camera="b",stream="main"} 7',
      'frames_total_created{camera="a"} 1700000000',
      'frames 99',
    ].join('\n');
    assert.deepEqual(findSamples(text, 'frames_total').map((s) => s.value), [10, 5, 7]);
    assert.deepEqual(findSamples(text, 'frames_total', { camera: 'a' }).map((s) => s.value), [10, 5]);
    assert.deepEqual(findSamples(text, 'frames_total', { camera: 'a', stream: 'sub' }).map((s) => s.value), [5]);
    assert.deepEqual(findSamples(text, 'frames_total', { camera: 'c' }), []);
    assert.deepEqual(findSamples(text, 'frames').map((s) => s.value), [99]);
    assert.deepEqual(findSamples(parsePrometheusText(text), 'frames_total', { stream: 'main' }).map((s) => s.value), [10, 7]);
  });

  test('formatSelector shows the selector as PromQL writes it', () => {
    assert.equal(formatSelector('frames_total'), 'frames_total');
    assert.equal(formatSelector('frames_total', { camera: 'gate "1"' }), 'frames_total{camera="gate \\"1\\""}');
  });
});
