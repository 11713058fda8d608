/**
 * Structured logs (issue 14.3): the JSON line an app writes (fields, err with its cause, no
 * server path, redacted whole), the request id rules, the `edgevisor logs` formatter, and the
 * Docker log frames it reads for container children.
 */
import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../apps/common/src/errors.ts';
import { createAppLogger, levelOfLine, lineLogger } from '../../apps/common/src/log.ts';
import { clearSecrets, registerSecretsIn } from '../../apps/common/src/redact.ts';
import { createLogger, parseLogLevel, requestIdFor, serializeError, logEvent, MAX_REQUEST_ID } from '../../supervisor/src/log.ts';
import { formatLogLine, parseLogLine, rawLogLine } from '../../supervisor/src/cli/log-format.ts';
import { containerLogLines } from '../../supervisor/src/backends/docker/log-frames.ts';

/** A logger whose lines land in an array, parsed. */
function capture(make: (dest: { write(s: string): void }) => ReturnType<typeof createLogger>) {
  const raw: string[] = [];
  const log = make({ write: (s) => void raw.push(s) });
  return { log, raw, lines: () => raw.map((l) => JSON.parse(l) as Record<string, any>) };
}

describe('app log lines', () => {
  afterEach(() => clearSecrets());

  test('one JSON object per line: time, level word, app, fields, msg', () => {
    const c = capture((destination) => createAppLogger({ app: 'camera', destination }));
    c.log.child({ child: 'dock' }).warn({ reconnects: 3 }, 'camera lost');
    assert.equal(c.raw.length, 1);
    assert.ok(c.raw[0]!.endsWith('\n') && !c.raw[0]!.slice(0, -1).includes('\n'));
    const [l] = c.lines();
    assert.equal(l!.level, 'warn');
    assert.equal(l!.app, 'camera');
    assert.equal(l!.child, 'dock');
    assert.equal(l!.reconnects, 3);
    assert.equal(l!.msg, 'camera lost');
    assert.ok(!Number.isNaN(Date.parse(l!.time)), l!.time);
  });

  test('a logged object with a password in a URL field, a registered secret in a cause: redacted in every field, still JSON', () => {
    registerSecretsIn({ cameras: [{ source: { mjpeg: { url: 'http://op@cam/v.mjpg', username: 'op', password: 'Hunter-Pw-22' } } }] });
    const c = capture((destination) => createAppLogger({ app: 'camera', destination }));
    const cause = new TypeError('fetch failed for op:Hunter-Pw-22 (decoded by a library)');
    c.log.error({ camera: { url: 'rtsp://admin:S3cretPass@10.0.0.9:554/s', query: 'http://cam/snap.jpg?password=abc123&x=1' }, err: new AppError('CAMERA_ERR_STREAM_LOST', 'stream lost', { cause }) }, 'GET /cameras/door/frame.jpg -> 500');
    const text = c.raw.join('');
    for (const secret of ['S3cretPass', 'abc123', 'Hunter-Pw-22']) assert.ok(!text.includes(secret), `${secret} in ${text}`);
    const [l] = c.lines();
    assert.equal(l!.camera.url, 'rtsp://***@10.0.0.9:554/s');
    assert.equal(l!.camera.query, 'http://cam/snap.jpg?password=***&x=1');
    assert.equal(l!.err.code, 'CAMERA_ERR_STREAM_LOST');
    assert.equal(l!.err.cause.message, 'fetch failed for op:*** (decoded by a library)');
  });

  test('the redaction is the logger\'s: the same line through the unredacted base logger keeps the password (so the hook is what hides it)', () => {
    const c = capture((destination) => createLogger({ app: 'x', destination }));
    c.log.info({ url: 'rtsp://admin:S3cretPass@h/s' }, 'x');
    assert.match(c.raw[0]!, /S3cretPass/);
  });

  test('err: type, message, code, cause chain; the stack names files, never server paths', () => {
    const inner = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
    const e = serializeError(new AppError('INFERENCE_ERR_MODEL_LOAD', 'model did not load', { cause: inner }));
    assert.equal(e['type'], 'AppError');
    assert.equal(e['code'], 'INFERENCE_ERR_MODEL_LOAD');
    assert.deepEqual({ ...(e['cause'] as object), stack: undefined }, { type: 'Error', message: 'ENOENT: no such file', code: 'ENOENT', stack: undefined });
    const stack = String(e['stack']);
    assert.match(stack, /log\.test\.ts:\d+:\d+/);
    assert.ok(!stack.includes(import.meta.dirname), stack);
    assert.doesNotMatch(stack, /\(\/|at \//);
    // Not an Error: its text.
    assert.deepEqual(serializeError('boom'), { message: 'boom' });
  });

  test('LOG_LEVEL: a level word, or an error naming the variable and what is accepted', () => {
    assert.equal(parseLogLevel(undefined), 'info');
    assert.equal(parseLogLevel(' DEBUG '), 'debug');
    assert.throws(() => parseLogLevel('loud'), /env LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"/);
    const c = capture((destination) => createAppLogger({ app: 'web', level: 'warn', destination }));
    c.log.info('hidden');
    c.log.warn('shown');
    assert.deepEqual(c.lines().map((l) => l.msg), ['shown']);
  });

  test('free-text lines from line callbacks: the camera they are about as child, the app prefix dropped', () => {
    const c = capture((destination) => createAppLogger({ app: 'inference', destination }));
    const log = lineLogger(c.log);
    log('inference camera dock: cannot read the frame ring (retrying)');
    log('camera press: frame ring failed, raw frames over HTTP only: ENOSPC');
    log('inference: camera dock (nanodet model 416x416)');
    log('inference: camera gate-3: no longer listed by the camera controller: its frame loop stops');
    assert.deepEqual(c.lines().map((l) => [l.level, l.child, l.msg]), [
      ['warn', 'dock', 'cannot read the frame ring (retrying)'],
      ['warn', 'press', 'frame ring failed, raw frames over HTTP only: ENOSPC'],
      ['info', undefined, 'camera dock (nanodet model 416x416)'],
      ['info', 'gate-3', 'no longer listed by the camera controller: its frame loop stops'],
    ]);
  });

  test('free-text lines from line callbacks get a level from their words', () => {
    assert.equal(levelOfLine('inference: SAFETY EVENT LOST (queue of 10 full)'), 'error');
    assert.equal(levelOfLine('inference camera dock: cannot read the frame ring (retrying)'), 'warn');
    assert.equal(levelOfLine('inference: camera dock (nanodet model 416x416)'), 'info');
  });

  test('a tree event as a supervisor line: child, event, seq, from/to, level by kind', () => {
    const c = capture((destination) => createLogger({ app: 'supervisor', destination }));
    logEvent(c.log, { seq: 7, ts: 0, type: 'transition', child: 'camera', from: 'running', to: 'unhealthy', reason: 'probe frames failed 3 times' });
    logEvent(c.log, { seq: 8, ts: 0, type: 'alarm', child: 'box', reason: 'gave up' });
    const [a, b] = c.lines();
    assert.deepEqual([a!.level, a!.child, a!.event, a!.seq, a!.from, a!.to, a!.msg], ['warn', 'camera', 'transition', 7, 'running', 'unhealthy', 'transition: running -> unhealthy: probe frames failed 3 times']);
    assert.equal(b!.level, 'error');
  });
});

describe('request ids', () => {
  const fresh = () => 'fresh';
  test('a short, safe x-request-id is kept', () => {
    for (const id of ['abc-123', 'a', 'r0f3a2b000001', 'trace.id:42_x', 'A'.repeat(MAX_REQUEST_ID)]) assert.equal(requestIdFor(id, fresh), id);
    assert.equal(requestIdFor(['first-1', 'second'], fresh), 'first-1');
  });
  test('a long, empty or unsafe one is replaced', () => {
    for (const id of [undefined, '', 'A'.repeat(MAX_REQUEST_ID + 1), 'has space', 'crlf\r\ninjected: 1', '"quoted"', '-leading', '<script>', 'ünïcode', 'a/b', 'x=1']) {
      assert.equal(requestIdFor(id, fresh), 'fresh', JSON.stringify(id));
    }
  });
  test('fresh ids are unique and themselves safe', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => requestIdFor(undefined)));
    assert.equal(ids.size, 1000);
    for (const id of ids) assert.equal(requestIdFor(id, fresh), id);
  });
});

describe('edgevisor logs: the readable form', () => {
  const json = JSON.stringify({ level: 'error', time: '2026-12-01T12:21:36.315Z', app: 'web', reqId: 'r1', method: 'GET', err: { type: 'AppError', message: 'upstream down', code: 'WEB_ERR_X', cause: { type: 'Error', message: 'connect ECONNREFUSED', code: 'ECONNREFUSED' }, stack: 'AppError: upstream down\n    at f (api-routes.ts:1:2)' }, child: 'cam', msg: 'GET /api/x -> 500: upstream down' });

  test('a JSON line: local time, level, message, then app, child, reqId, other fields, err with its causes (no stack)', () => {
    const out = formatLogLine(`stdout| ${json}`);
    const d = new Date('2026-12-01T12:21:36.315Z');
    const p = (n: number) => String(n).padStart(2, '0');
    const when = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.315`;
    assert.equal(out, `${when}  ERROR  GET /api/x -> 500: upstream down  app=web child=cam reqId=r1 method=GET err="AppError: upstream down [WEB_ERR_X] <- cause: Error: connect ECONNREFUSED [ECONNREFUSED]"`);
  });

  test('pino\'s numeric levels and epoch times read too; objects as JSON', () => {
    const out = formatLogLine(JSON.stringify({ level: 40, time: 0, msg: 'slow', data: { n: 1 } }));
    assert.match(out, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.000 {2}WARN {3}slow {2}data=\{"n":1\}$/);
    // An object field reads as its JSON, a text field that merely looks like JSON is quoted when it is not.
    assert.match(formatLogLine(JSON.stringify({ level: 30, time: 0, msg: 'm', data: { error: 'connect ECONNREFUSED', ok: false }, list: [1, 2], note: '{not json' })), / {2}data=\{"error":"connect ECONNREFUSED","ok":false\} list=\[1,2\] note="\{not json"$/);
  });

  test('anything else passes through unchanged: ffmpeg, a child printing text, backend notes, JSON that is not a log line', () => {
    for (const line of ['stderr| [rtsp @ 0x55d] method DESCRIBE failed: 404 Not Found', 'stdout| listening on 127.0.0.1:8080', 'edgevisor| spawned pid 12', 'plain text', 'stdout| {"a":1}', 'stdout| {not json', 'stdout| [1,2]', '']) {
      assert.equal(formatLogLine(line), line);
      assert.equal(rawLogLine(line), line);
    }
  });

  test('--json: the JSON line as logged, without the backend\'s prefix', () => {
    assert.equal(rawLogLine(`stdout| ${json}`), json);
    assert.equal(parseLogLine(`stderr| ${json}`).stream, 'stderr');
  });
});

describe('docker logs frames', () => {
  const frame = (stream: 1 | 2, text: string) => {
    const payload = Buffer.from(text);
    const head = Buffer.alloc(8);
    head[0] = stream;
    head.writeUInt32BE(payload.length, 4);
    return Buffer.concat([head, payload]);
  };

  test('multiplexed stdout and stderr frames become prefixed lines, in order; a line split over frames is joined', () => {
    const buf = Buffer.concat([frame(1, '{"msg":"a"}\n'), frame(2, 'ffmpeg: oops\r\n'), frame(1, '{"msg":'), frame(1, '"b"}\nlast without newline')]);
    assert.deepEqual(containerLogLines(buf), ['stdout| {"msg":"a"}', 'stderr| ffmpeg: oops', 'stdout| {"msg":"b"}', 'stdout| last without newline']);
  });

  test('a TTY container\'s raw output is read as stdout lines', () => {
    assert.deepEqual(containerLogLines(Buffer.from('hello\nworld\n')), ['stdout| hello', 'stdout| world']);
    assert.deepEqual(containerLogLines(Buffer.alloc(0)), []);
  });
});
