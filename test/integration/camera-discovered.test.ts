// A camera the onvif service learns of at run time gets its worker in the running camera
// controller (apps/camera/src/discovered.ts: a simple_one_for_one `discovered` supervisor and
// tree.addChild), with no restart of the controller or of its other cameras. Real parts: the
// in-process onvif service, a simulated ONVIF camera speaking SOAP (test/sim/onvif-camera.ts) in
// front of the GStreamer RTSP sim, ffmpeg decoding the stream.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCameraApp, type CameraApp } from '../../apps/camera/src/app.ts';
import { parseCameras } from '../../apps/camera/src/config.ts';
import { DISCOVERED } from '../../apps/camera/src/discovered.ts';
import type { TreeEvent } from '../../supervisor/src/core/events.ts';
import { startService, type ServiceHarness } from '../helpers/onvif.ts';
import { startSimCamera, type SimCamera } from '../sim/onvif-camera.ts';
import { startRtspSim, type RtspSim } from '../sim/rtsp-server.ts';
import { waitFor } from '../helpers/net.ts';

describe('camera controller: cameras found by the onvif service', () => {
  let rtsp: RtspSim | undefined;
  let cam: SimCamera | undefined;
  let onvif: ServiceHarness | undefined;
  let app: CameraApp | undefined;
  after(async () => {
    await app?.stop();
    await onvif?.stop();
    await cam?.stop();
    await rtsp?.stop();
  });

  test('a new ONVIF camera gets a worker streaming its frames; the running controller and its other camera are untouched', async () => {
    rtsp = await startRtspSim({ fps: 10, width: 640, height: 360 });
    const secret = `Disc-${process.pid}-pw`;
    cam = await startSimCamera({ rtspUri: rtsp.url, password: secret });
    onvif = await startService();
    app = buildCameraApp({
      cameras: parseCameras({ cameras: [{ id: 'yard', source: { synthetic: {} }, fps: 5, width: 160, height: 90 }] }),
      discovery: { onvifUrl: onvif.base, everyMs: 200 },
    });
    const events: TreeEvent[] = [];
    app.tree.onEvent((e) => events.push(e));
    await app.start();
    await waitFor('yard streaming', () => (app!.cameras.get('yard')?.frames.latest()?.seq ?? 0) > 0, 20_000);
    assert.deepEqual(app.tree.child(DISCOVERED)?.children, [], 'no camera known yet');

    const added = await onvif.api<{ id: string; status: string }>('POST', '/cameras', { address: `127.0.0.1:${cam.port}`, username: 'admin', password: secret });
    assert.equal(added.body.status, 'ok');
    const id = added.body.id;
    await waitFor(`a worker for ${id}`, () => app!.tree.child(id)?.state === 'running', 10_000);
    await waitFor(`frames of ${id}`, () => (app!.cameras.get(id)?.frames.latest()?.seq ?? 0) > 3, 30_000);
    const node = app.tree.child(id)!;
    assert.equal(node.parent, DISCOVERED);
    assert.equal(node.dynamic, true);
    assert.equal(app.cameras.get(id)?.config.source.kind, 'onvif');

    assert.equal(app.cameras.get('yard')?.runs, 1, 'the other camera was not restarted');
    assert.equal(events.filter((e) => e.type === 'transition' && e.child === 'camera-controller').length, 2, 'the controller tree started once (starting, running) and never again');
    const add = events.filter((e) => e.type === 'manual' && e.data?.['action'] === 'add');
    assert.deepEqual(add.map((e) => e.data?.['added']), [id], 'one worker, added once, however many polls ran');
    assert.equal(add[0]?.data?.['via'], 'discovery');
    assert.ok(!JSON.stringify(events).includes(secret), 'no password in the tree events');
  });
});
