// Log line cost (issue 14.3): what an app pays per JSON line, and what it loses at exit, per way of
// writing. Each variant runs in its own child process writing into a pipe that this process
// drains (as the supervisor's log ring and Docker do), so the figures include the pipe.
//
//   baseline      process.stdout.write(JSON.stringify({...}) + '\n') (what the apps did before)
//   pino-sync     apps/common's createAppLogger: pino, default destination (sync sonic-boom, fd 1),
//                 every line through the redaction (streamWrite hook)
//   pino-noredact the same without the redaction (supervisor/src/log.ts createLogger)
//   pino-async    pino.destination({ sync: false }) (buffered; what we did not choose)
//   pino-pretty   the supervisor's logger on a terminal: each JSON line turned into the readable
//                 form of `edgevisor logs` in the streamWrite hook (supervisor/src/cli/terminal-log.ts)
//
// Prints per variant: microseconds per line (median of 3 runs of N lines), the ratio to the
// baseline of the same run, and how many of 2000 lines written just before process.exit(0) arrive.
//
// Run: node --import tsx test/bench/log.bench.ts [lines=20000]
import { spawn } from 'node:child_process';
import { pino } from 'pino';
import { createAppLogger } from '../../apps/common/src/log.ts';
import { createLogger } from '../../supervisor/src/log.ts';
import { prettyLine } from '../../supervisor/src/cli/terminal-log.ts';

type Variant = 'baseline' | 'pino-sync' | 'pino-noredact' | 'pino-async' | 'pino-pretty';
const VARIANTS: Variant[] = ['baseline', 'pino-sync', 'pino-noredact', 'pino-async', 'pino-pretty'];

// A typical request line: a few fields, a URL.
const fields = { reqId: 'r0a1b2c000001', method: 'GET', path: '/cameras/dock/frame.jpg', status: 200, ms: 1.3 };

function writer(v: Variant): (i: number) => void {
  if (v === 'baseline') return (i) => void process.stdout.write(JSON.stringify({ level: 'info', time: new Date().toISOString(), app: 'camera', ...fields, i, msg: 'GET /cameras/dock/frame.jpg -> 200 OK' }) + '\n');
  const log = v === 'pino-sync' ? createAppLogger({ app: 'camera' })
    : v === 'pino-noredact' ? createLogger({ app: 'camera' })
    : v === 'pino-pretty' ? createLogger({ app: 'camera', rewriteLine: prettyLine })
    : pino({ base: { app: 'camera' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ sync: false }));
  return (i) => log.info({ ...fields, i }, 'GET /cameras/dock/frame.jpg -> 200 OK');
}

if (process.argv[2] === '--child') {
  const v = process.argv[3] as Variant;
  const n = Number(process.argv[4]);
  const exitAfter = process.argv[5] === 'exit';
  const write = writer(v);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) write(i);
  const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
  process.stderr.write(`${us}\n`);
  if (exitAfter) process.exit(0);
} else {
  const lines = Number(process.argv[2] ?? 20_000);
  const run = (v: Variant, n: number, exit = false) => new Promise<{ us: number; received: number }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--child', v, String(n), exit ? 'exit' : ''], { stdio: ['ignore', 'pipe', 'pipe'] });
    let received = 0;
    let err = '';
    child.stdout.on('data', (d: Buffer) => { for (let i = d.indexOf(10); i !== -1; i = d.indexOf(10, i + 1)) received++; });
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${v} hung`)); }, 120_000);
    child.on('close', () => { clearTimeout(timer); resolve({ us: Number(err.trim().split('\n').at(-1)), received }); });
  });
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const results = new Map<Variant, { us: number; atExit: number }>();
  for (const v of VARIANTS) {
    const us: number[] = [];
    for (let r = 0; r < 3; r++) us.push((await run(v, lines)).us);
    results.set(v, { us: median(us), atExit: (await run(v, 2000, true)).received });
  }
  const base = results.get('baseline')!.us;
  console.log(`log lines: ${lines} per run, median of 3; "at exit": lines of 2000 received when the process exits right after writing them`);
  console.log('variant        us/line  x baseline  at exit');
  for (const [v, r] of results) console.log(`${v.padEnd(13)}  ${r.us.toFixed(2).padStart(7)}  ${(r.us / base).toFixed(2).padStart(10)}  ${String(r.atExit).padStart(7)}`);
}
