/**
 * When the camera app says its cameras file shows credentials to everyone (cameras-file-mode.ts):
 * readable by others (mode & 0o004) and holding a password, URL userinfo or secret parameter,
 * configured or in `discovered:`. The demo file (comments only) and a 0640 file are quiet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { camerasFileModeWarning, holdsCredential } from '../../apps/camera/src/cameras-file-mode.ts';
import { parseCamerasFile } from '../../apps/camera/src/config.ts';

const file = (yaml: string) => parseCamerasFile(parse(yaml));
const rtsp = file('cameras:\n  - id: door\n    source: { rtsp: { url: "rtsp://admin:Door-Pass1@10.0.0.5/stream" } }\n');

test('a 0644 file with credentials warns, naming the file (base name) and the fix; 0640 and 0600 do not', () => {
  const w = camerasFileModeWarning('cameras.yaml', 0o100644, rtsp);
  assert.match(w ?? '', /^cameras\.yaml holds camera credentials and every user of this machine can read it \(mode 0644\): on an installed box run edgevisorctl apply /);
  assert.ok(!w!.includes('Door-Pass1'), 'the warning never carries the credential');
  assert.equal(camerasFileModeWarning('cameras.yaml', 0o100640, rtsp), undefined);
  assert.equal(camerasFileModeWarning('cameras.yaml', 0o100600, rtsp), undefined);
});

test('every kind of credential counts; a file without one (the demo, with its commented password) does not', () => {
  const kinds = [
    'cameras:\n  - id: a\n    source: { mjpeg: { url: "http://10.0.0.5/v.mjpg", username: op, password: "Mj-Pass22" } }\n',
    'cameras:\n  - id: a\n    source: { snapshot: { url: "http://10.0.0.5/s.jpg?token=abcd1234" } }\n',
    'cameras:\n  - id: a\n    source: { onvif: { stream_uri: "rtsp://u:Onvif-Pass3@10.0.0.5/s" } }\n',
    'cameras: []\ndiscovered:\n  username: viewer\n  password: Disc-Pass4\n',
  ];
  for (const k of kinds) assert.ok(camerasFileModeWarning('cameras.yaml', 0o644, file(k)), k);
  const demo = readFileSync('deploy/site/cameras.yaml', 'utf8');
  assert.match(demo, /password: change-me/, 'the demo mentions a password in a comment');
  assert.equal(camerasFileModeWarning('cameras.yaml', 0o644, file(demo)), undefined);
  assert.equal(holdsCredential({ source: { url: 'rtsp://10.0.0.5/s', profile: 'main' } }), false);
});
