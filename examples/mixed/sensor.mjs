// The mixed example's `process` child: a sensor served over HTTP on $PORT (GET /healthz,
// GET /reading). On its first run it wedges after WEDGE_AFTER readings: its event loop spins, so
// it answers nothing, not even /healthz, and never exits on its own. The supervisor's HTTP probe
// times out, marks it hung and kills it (hung_shutdown: brutal_kill). $MARKER remembers the first run.
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';

const port = Number(process.env.PORT);
const marker = process.env.MARKER;
const wedgeAfter = Number(process.env.WEDGE_AFTER ?? 15);
const firstRun = !existsSync(marker);
if (firstRun) writeFileSync(marker, `${process.pid}\n`);
let n = 0;

createServer((req, res) => {
  if (req.url === '/healthz') return res.end('ok');
  if (req.url === '/reading') {
    n++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ n, value: 20 + Math.sin(n / 3) * 5, pid: process.pid }));
    if (firstRun && n === wedgeAfter) {
      console.log(`sensor: wedged after ${n} readings`);
      setImmediate(() => {
        for (;;); // a stuck loop: no answer, no exit
      });
    }
    return;
  }
  res.statusCode = 404;
  res.end();
}).listen(port, '127.0.0.1', () => console.log(`sensor: listening on ${port}`));
process.on('SIGTERM', () => process.exit(0));
