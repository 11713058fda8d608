// Baseline for onvif.bench.ts: the `onvif` package's own Cam.connect() (default options, so its
// 120 s timeout) on the same cameras. Run inside the bench's namespace; prints one JSON line.
// Usage: node --import tsx test/bench/onvif-package-connect.ts '<json: {urls, username, password, waitMs}>'
import { createRequire } from 'node:module';

interface CamCtor { new (o: Record<string, unknown>): { connect(cb: (err: unknown) => void): void; profiles?: unknown[] } }
const { Cam } = createRequire(import.meta.url)('onvif') as { Cam: CamCtor };
const a = JSON.parse(process.argv[2]!) as { urls: string[]; username: string; password: string; waitMs: number };
const t0 = performance.now();
let ok = 0;
let failed = 0;
let lastOkMs = 0;
for (const url of a.urls) {
  const u = new URL(url);
  const cam = new Cam({ hostname: u.hostname, port: Number(u.port), path: u.pathname, username: a.username, password: a.password, autoconnect: false });
  cam.connect((err) => {
    if (err) failed++;
    else { ok++; lastOkMs = performance.now() - t0; }
  });
}
setTimeout(() => {
  console.log(JSON.stringify({ ok, failed, pending: a.urls.length - ok - failed, lastOkMs: Math.round(lastOkMs), waitedMs: a.waitMs }));
  process.exit(0);
}, a.waitMs);
