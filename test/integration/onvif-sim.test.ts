/**
 * The simulated ONVIF camera is a real protocol peer: a third-party client (the `onvif` package's
 * own Cam) connects to it as to a camera, in WS-Security and in HTTP-digest mode, and sees the
 * behaviour recorded for real cameras (a wrong password: connect() "succeeds", GetProfiles fails).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startSimCamera, type SimCamera } from '../sim/onvif-camera.ts';

interface Cam {
  connect(cb: (err: unknown) => void): void;
  on(ev: string, fn: (m: string) => void): void;
  profiles?: { $: { token: string }; name: string }[];
  getStreamUri(o: { protocol: string; profileToken: string }, cb: (err: unknown, r: { uri: string }) => void): void;
  getDeviceInformation(cb: (err: unknown, r: { serialNumber: unknown }) => void): void;
}
const { Cam } = createRequire(import.meta.url)('onvif') as { Cam: new (o: Record<string, unknown>) => Cam };
const sims: SimCamera[] = [];
after(async () => { for (const s of sims) await s.stop(); });

const connect = (sim: SimCamera, password: string) => new Promise<{ cam: Cam; err: unknown; warnings: string[] }>((resolve) => {
  const cam = new Cam({ hostname: sim.host, port: sim.port, username: 'admin', password, autoconnect: false, timeout: 5000 });
  const warnings: string[] = [];
  cam.on('warning', (m) => warnings.push(m));
  cam.connect((err) => resolve({ cam, err, warnings }));
});

test('the onvif package connects to the sim: profiles, stream URI, device information (WS-Security and digest-only)', async () => {
  for (const auth of ['ws-security', 'http-digest'] as const) {
    const sim = await startSimCamera({ auth, serialNumber: '12345', rtspUri: 'rtsp://127.0.0.1:8554/x', clockOffsetMs: 30_000 });
    sims.push(sim);
    const { cam, err } = await connect(sim, sim.options.password);
    assert.equal(err, null, `${auth}: ${String(err)}`);
    assert.deepEqual(cam.profiles!.map((p) => p.$.token), ['main', 'sub'], auth);
    const uri = await new Promise<string>((res, rej) => cam.getStreamUri({ protocol: 'RTSP', profileToken: 'sub' }, (e, r) => (e ? rej(e) : res(r.uri))));
    assert.equal(uri, 'rtsp://127.0.0.1:8554/x');
    const info = await new Promise<{ serialNumber: unknown }>((res, rej) => cam.getDeviceInformation((e, r) => (e ? rej(e) : res(r))));
    // The package's known number coercion (the service keeps strings).
    assert.equal(info.serialNumber, 12345);
    assert.deepEqual(sim.requests.slice(0, 2), ['GetSystemDateAndTime', 'GetServices']);
  }
});

test('with a wrong password the package reports success and a warning (the sim refuses as a camera does)', async () => {
  const sim = await startSimCamera({});
  sims.push(sim);
  const { cam, err, warnings } = await connect(sim, 'wrong');
  assert.ok(!err, 'connect() does not fail');
  assert.deepEqual(cam.profiles, []);
  assert.match(warnings.join(' '), /Sender not Authorized/);
  assert.ok(sim.authFailures() >= 1);
});
