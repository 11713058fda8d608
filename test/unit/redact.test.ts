import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../apps/common/src/errors.ts';
import { clearSecrets, redactSecrets, redactingLog, registerSecret, registerSecretsIn } from '../../apps/common/src/redact.ts';

describe('redactSecrets', () => {
  afterEach(() => clearSecrets());

  const cases: [string, string, string][] = [
    ['rtsp URL with userinfo', 'rtsp://admin:S3cretPass@127.0.0.1:1/stream: Connection refused', 'rtsp://***@127.0.0.1:1/stream: Connection refused'],
    ['percent-encoded password', 'open rtsp://admin:S3cr%40t%2Fx@cam.local/s failed', 'open rtsp://***@cam.local/s failed'],
    ['unencoded @ in the password', 'rtsp://admin:pa@ss@10.0.0.2/s', 'rtsp://***@10.0.0.2/s'],
    ['user only', 'http://admin@cam/x', 'http://***@cam/x'],
    ['two URLs in one line', 'a http://u:p1@h1/ b rtsps://u:p2@h2:322/x', 'a http://***@h1/ b rtsps://***@h2:322/x'],
    ['bare user:pass@host', 'connecting to admin:hunter22@192.168.1.5 now', 'connecting to ***@192.168.1.5 now'],
    ['query password', 'GET http://cam/snap.jpg?user=admin&password=hunter22&x=1', 'GET http://cam/snap.jpg?user=admin&password=***&x=1'],
    ['query token', 'url?token=abc.def-ghi', 'url?token=***'],
    ['Basic header', 'Authorization: Basic YWRtaW46aHVudGVyMjI=', 'Authorization: ***'],
    ['bare Basic credentials', 'sent Basic YWRtaW46aHVudGVyMjI= to the camera', 'sent Basic *** to the camera'],
    ['Digest header params', 'Digest username="admin", realm="cam", response="6629fae49393a05397450978507c4ef1"', 'Digest username="***", realm="cam", response="***"'],
    ['nothing to hide', 'camera door: no frame for 5000ms (code 1): Connection refused', 'camera door: no frame for 5000ms (code 1): Connection refused'],
    ['an email-like id and a time', 'at 12:30:05 user x@y.z', 'at 12:30:05 user x@y.z'],
  ];
  for (const [name, input, want] of cases) {
    test(name, () => assert.equal(redactSecrets(input), want));
  }

  test('keeps JSON valid and hides URL passwords inside it (a quote in the password: through the registered secret)', () => {
    registerSecretsIn({ url: 'rtsp://admin:S3cret"Pass@127.0.0.1:1/s' });
    const body = JSON.stringify({ cameras: [{ id: 'door', lastError: { message: 'rtsp://admin:S3cret"Pass@127.0.0.1:1/s: refused' } }], 'a:b': 'c@d', password: 'x' });
    const out = redactSecrets(body);
    assert.doesNotThrow(() => JSON.parse(out), out);
    assert.ok(!out.includes('S3cret'), out);
  });

  test('registered secrets are replaced in every spelling: plain, percent-encoded, JSON-escaped, base64 user:pass', () => {
    registerSecret('S3cr@t/Pa ss"', 'admin');
    const plain = 'S3cr@t/Pa ss"';
    for (const form of [plain, encodeURIComponent(plain), encodeURIComponent(plain).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()), JSON.stringify(plain).slice(1, -1), Buffer.from(`admin:${plain}`).toString('base64')]) {
      const out = redactSecrets(`ffmpeg said: ${form} end`);
      assert.ok(!out.includes(form), `${form} -> ${out}`);
    }
  });

  test('registerSecretsIn finds password fields and URL userinfo anywhere in a config', () => {
    registerSecretsIn({ cameras: [{ source: { mjpeg: { url: 'http://cam/x', username: 'op', password: 'Zebra-Horse-9' } } }, { source: { onvif: { stream_uri: 'rtsp://a:Quokka77@h/s' } } }] });
    assert.equal(redactSecrets('p=Zebra-Horse-9 q=Quokka77'), 'p=*** q=***');
  });

  test('secrets shorter than 4 characters are left to the patterns (no garbled texts)', () => {
    registerSecret('ab');
    assert.equal(redactSecrets('abc rtsp://u:ab@h/'), 'abc rtsp://***@h/');
  });

  test('AppError redacts on construction: message and details', () => {
    const e = new AppError('CAMERA_ERR_CONNECT', 'camera x: rtsp://admin:S3cretPass@h/s: refused', { details: ['rtsp://admin:S3cretPass@h/s'] });
    assert.equal(e.message, 'camera x: rtsp://***@h/s: refused');
    assert.deepEqual(e.details, ['rtsp://***@h/s']);
  });

  test('redactingLog redacts every line before its sink', () => {
    const lines: string[] = [];
    redactingLog((l) => lines.push(l))('GET http://u:hunter22@h/ failed');
    assert.deepEqual(lines, ['GET http://***@h/ failed']);
  });
});

test('token/auth/credentials name things in JSON (kept); as URL parameters they are secrets (redacted)', () => {
  const json = '{"auth":"ws-security","token":"main","credentials":"camera","status":"ok"}';
  assert.equal(redactSecrets(json), json);
  assert.ok(!redactSecrets('{"password":"hunter22x"}').includes('hunter22x'));
  assert.ok(!redactSecrets('GET /snap?token=t0kenvalue').includes('t0kenvalue'));
  assert.ok(!redactSecrets('GET /snap?auth=s3cr3tvalue').includes('s3cr3tvalue'));
});
