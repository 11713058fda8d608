/**
 * Soak of the whole compose stack (issue 14): the real images, the supervisor and the five apps,
 * with 4 synthetic cameras playing vtest.avi (person detector on every one), left alone for
 * SOAK_MINUTES (default 20). Per service it reads the node process's RSS (VmRSS) and its open file
 * descriptors at the start (after a 60 s settle) and at the end, from the host's /proc (an
 * independent view: no app reports on itself), and prints the growth per hour, plus every restart
 * the supervisor made meanwhile (a soak that needed restarts is not a clean soak).
 *
 *   node --import tsx test/bench/soak.bench.ts            (or: npm run bench -- soak)
 *   SOAK_MINUTES=5 node --import tsx test/bench/soak.bench.ts
 *
 * Runs as root (reads /proc of the containers' processes). The stack is the fault suite's
 * (test/helpers/fault-stack.ts) with its relaxed probe timings for a loaded 2-core box.
 */
import { readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVICES, startFaultStack, type Service } from '../helpers/fault-stack.ts';

const minutes = Number(process.env.SOAK_MINUTES ?? 20);
const settleMs = 60_000;

const CAMERAS = ['dock', 'press', 'gate', 'yard'];
function camerasYaml(): string {
  const period = [12, 20, 16, 24];
  return `cameras:\n${CAMERAS.map((id, i) => `  - id: ${id}
    source: { synthetic: { period_s: ${period[i]}, clip: /usr/share/doc/opencv-doc/examples/data/vtest.avi } }
    fps: 5
    width: 640
    height: 480
    detect: { width: 416, height: 416 }
    heartbeat_timeout_ms: 15000
`).join('')}`;
}

interface Sample { rssMb: number; fds: number }

function sample(pid: number): Sample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
  return { rssMb: rssKb / 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
}

async function sampleAll(stack: Awaited<ReturnType<typeof startFaultStack>>): Promise<Map<Service, Sample & { pid: number; startedAt: string }>> {
  const out = new Map<Service, Sample & { pid: number; startedAt: string }>();
  for (const s of SERVICES) {
    const pid = await stack.nodePid(s);
    out.set(s, { ...sample(pid), pid, startedAt: (await stack.inspect(s)).startedAt });
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'ev-soak-'));
const camerasFile = join(dir, 'cameras.yaml');
writeFileSync(camerasFile, camerasYaml());
const stack = await startFaultStack({ prefix: 'evsoak', camerasFile, inferenceMb: 256 });
try {
  await new Promise((r) => setTimeout(r, settleMs));
  const lastSeq = (await stack.events()).at(-1)?.seq ?? 0;
  const t0 = Date.now();
  const start = await sampleAll(stack);
  console.log(`soak: ${CAMERAS.length} cameras, ${minutes} min, started ${new Date(t0).toISOString()}`);
  await new Promise((r) => setTimeout(r, minutes * 60_000));
  const hours = (Date.now() - t0) / 3_600_000;
  const end = await sampleAll(stack);
  const restarts = (await stack.events(lastSeq)).filter((e) => e.type === 'restart');

  console.log('\nservice     RSS start  RSS end  MB/h    fds start  fds end  fds/h   same process');
  for (const s of SERVICES) {
    const a = start.get(s)!;
    const b = end.get(s)!;
    const same = a.pid === b.pid && a.startedAt === b.startedAt;
    console.log(
      `${s.padEnd(11)} ${a.rssMb.toFixed(1).padStart(9)} ${b.rssMb.toFixed(1).padStart(8)} ${((b.rssMb - a.rssMb) / hours).toFixed(1).padStart(6)}` +
        `  ${String(a.fds).padStart(9)} ${String(b.fds).padStart(8)} ${((b.fds - a.fds) / hours).toFixed(1).padStart(6)}   ${same ? 'yes' : 'NO (restarted)'}`,
    );
  }
  const frames = await fetch(`${stack.url('camera')}/metrics`, { signal: AbortSignal.timeout(5000) }).then((r) => r.text());
  const perCamera = CAMERAS.map((c) => `${c}=${new RegExp(`^camera_frames_total\\{[^}]*camera="${c}"[^}]*\\}\\s+(\\d+)`, 'm').exec(frames)?.[1] ?? '?'}`);
  console.log(`\nframes: ${perCamera.join(' ')}`);
  console.log(`restarts by the supervisor during the soak: ${restarts.length}${restarts.map((e) => `\n  ${e.child}: ${String((e.data as { words?: string } | undefined)?.words ?? e.reason)}`).join('')}`);
} finally {
  await stack.down();
  rmSync(dir, { recursive: true, force: true });
}
