import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCameras } from '../../apps/camera/src/config.ts';
import { loadConfig } from '../../apps/onvif/src/config.ts';
import { deviceUrlFromDiscovery, parseAddress, addressId, endpointId } from '../../apps/onvif/src/address.ts';
import { rewriteUrl, type Rewrite } from '../../apps/onvif/src/device.ts';

const cam = (onvif: unknown) => ({ cameras: [{ id: 'a', source: { onvif } }] });

test('camera source onvif: static stream_uri stays rtsp; device/address + profile asks the service (ONVIF_URL)', () => {
  assert.deepEqual(parseCameras(cam({ stream_uri: 'rtsp://10.0.0.5/s' }))[0]!.source, { kind: 'rtsp', url: 'rtsp://10.0.0.5/s' });
  const s = parseCameras(cam({ device: 'abc', profile: 'sub' }), { onvifUrl: 'http://127.0.0.1:8082' })[0]!.source;
  assert.equal(s.kind, 'onvif');
  assert.deepEqual(s.kind === 'onvif' && [s.serviceUrl, s.device, s.profile], ['http://127.0.0.1:8082', 'abc', 'sub']);
  assert.throws(() => parseCameras(cam({ device: 'abc' })), /cameras\.0\.source\.onvif: device\/address needs the onvif service: set ONVIF_URL/);
  assert.throws(() => parseCameras(cam({ device: 'a', address: '10.0.0.5' }), { onvifUrl: 'http://x:1' }), /one of device \/ address/);
  assert.throws(() => parseCameras(cam({ profile: 'sub' }), { onvifUrl: 'http://x:1' }), /stream_uri, or one of device/);
});

test('onvif env: bad values are one clear line naming the variable', () => {
  assert.throws(() => loadConfig({ ONVIF_REQUEST_TIMEOUT_MS: 'soon' }), /env ONVIF_REQUEST_TIMEOUT_MS: expected milliseconds/);
  assert.throws(() => loadConfig({ ONVIF_DISCOVERY: 'maybe' }), /env ONVIF_DISCOVERY: expected true or false/);
  const c = loadConfig({ DATA_DIR: '/data', ONVIF_DISCOVERY: 'true', ONVIF_DISCOVERY_INTERFACES: 'eth0,eth1' });
  assert.deepEqual([c.storeFile, c.discoveryEnabled, c.discoveryInterfaces, c.requestTimeoutMs], ['/data/onvif-cameras.json', true, ['eth0', 'eth1'], 5000]);
  assert.equal(loadConfig({}).discoveryEnabled, false, 'off unless asked for');
});

test('addresses: host, host:port or URL; userinfo refused; ids', () => {
  assert.equal(parseAddress('10.0.0.5').toString(), 'http://10.0.0.5/onvif/device_service');
  assert.equal(parseAddress('10.0.0.5:8080').toString(), 'http://10.0.0.5:8080/onvif/device_service');
  assert.throws(() => parseAddress('http://admin:pw@10.0.0.5/'), (e: Error) => /credentials in an address are refused/.test(e.message) && !e.message.includes('pw'));
  assert.equal(addressId(parseAddress('10.0.0.5')), 'addr-10-0-0-5-80');
  assert.equal(endpointId('urn:uuid:5E1A-00'), '5e1a-00');
});

test('rewrites: another host becomes the one the camera answered from; RTSP keeps its port; userinfo dropped', () => {
  const rw: Rewrite[] = [];
  const reached = new URL('http://10.1.1.9:8000/onvif/device_service');
  assert.equal(rewriteUrl('http://192.168.1.64/onvif/media', reached, 'media', rw, false), 'http://10.1.1.9:8000/onvif/media');
  assert.equal(rewriteUrl('rtsp://u:p@192.168.1.64:554/s', reached, 'stream', rw, true), 'rtsp://10.1.1.9:554/s');
  assert.equal(rewriteUrl('rtsp://10.1.1.9:554/s', reached, 'same', rw, true), 'rtsp://10.1.1.9:554/s');
  assert.deepEqual(rw.map((r) => r.what), ['media', 'stream']);
  assert.ok(!JSON.stringify(rw).includes('u:p'));
  const d = deviceUrlFromDiscovery(['http://192.168.1.64:80/onvif/device_service'], '10.1.1.9');
  assert.equal(d?.url.toString(), 'http://10.1.1.9/onvif/device_service');
  assert.equal(d?.rewrite?.from, 'http://192.168.1.64/onvif/device_service');
  assert.equal(deviceUrlFromDiscovery(['http://10.1.1.9:81/x', 'http://1.2.3.4/x'], '10.1.1.9')?.rewrite, undefined);
});
