/**
 * Several simulated ONVIF cameras in one process (one HTTP port each), their WS-Discovery
 * responder and, optionally, the GStreamer RTSP sim behind their stream URIs. For tests and the
 * benchmark that run it inside a network namespace (`ip netns exec NS node --import tsx ...`).
 *
 * Usage: node --import tsx test/sim/onvif-sim-main.ts '<json>' where json is
 *   { host, rtsp?: { fps, width, height }, discovery?: true, cameras: SimCameraOptions[] }
 * Prints `READY <json>` (each camera's url, port, endpointReference) on stdout. Reads commands on
 * stdin, one JSON per line: { "camera": <index>, "set": { ...SimCameraOptions } } -> `OK <index>`.
 * Exits on SIGTERM/SIGINT (stopping everything it started).
 */
import { createInterface } from 'node:readline';
import { startSimCamera, type SimCamera, type SimCameraOptions } from './onvif-camera.ts';
import { startDiscoveryResponder, type DiscoveryResponder } from './onvif-discovery.ts';
import { startRtspSim, type RtspSim } from './rtsp-server.ts';

interface SimConfig { host: string; rtsp?: { fps?: number; width?: number; height?: number }; discovery?: boolean; cameras: SimCameraOptions[] }

const cfg = JSON.parse(process.argv[2] ?? '{}') as SimConfig;
let rtsp: RtspSim | undefined;
let responder: DiscoveryResponder | undefined;
const cameras: SimCamera[] = [];

async function stop(): Promise<void> {
  await responder?.stop();
  await Promise.allSettled(cameras.map((c) => c.stop()));
  await rtsp?.stop();
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());

if (cfg.rtsp) rtsp = await startRtspSim({ ...cfg.rtsp, address: cfg.host });
for (const c of cfg.cameras) cameras.push(await startSimCamera({ host: cfg.host, ...(rtsp ? { rtspUri: rtsp.url } : {}), ...c }));
if (cfg.discovery) responder = await startDiscoveryResponder({ cameras: () => cameras, interfaceAddress: cfg.host });
console.log(`READY ${JSON.stringify({ rtsp: rtsp?.url, cameras: cameras.map((c) => ({ url: c.url, port: c.port, endpointReference: c.options.endpointReference, serialNumber: c.options.serialNumber })) })}`);

createInterface({ input: process.stdin }).on('line', (line) => {
  try {
    const cmd = JSON.parse(line) as { camera: number; set: Partial<SimCameraOptions> };
    cameras[cmd.camera]!.set(cmd.set);
    console.log(`OK ${cmd.camera}`);
  } catch (err) {
    console.log(`ERR ${(err as Error).message}`);
  }
});
