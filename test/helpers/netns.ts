import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

/**
 * Two network namespaces joined by a veth pair, for WS-Discovery tests: multicast never touches
 * the machine's own interfaces. `box` is where the services run, `plant` where the cameras are.
 * Names carry the pid (tests of other branches run at the same time). Needs root.
 */
export interface NetnsPair {
  box: string;
  plant: string;
  /** Interface names inside each namespace. */
  boxIf: string;
  plantIf: string;
  boxAddr: string;
  plantAddr: string;
  /**
   * A second plant network on its own box interface (10.78.0.0/24), with no multicast route in the
   * box: only a probe sent on that interface itself reaches it.
   */
  addPlant(): { ns: string; boxIf: string; boxAddr: string; plantAddr: string };
  /** Runs a command inside a namespace, waits for it (with a timeout). */
  exec(ns: string, cmd: string[], timeoutMs?: number): string;
  /** Starts a long-running process inside a namespace. */
  spawn(ns: string, cmd: string[], opts?: { env?: NodeJS.ProcessEnv; cwd?: string }): ChildProcess;
  /** HTTP to a service inside a namespace (curl run there). */
  http<T = unknown>(ns: string, method: string, url: string, body?: unknown, timeoutS?: number): { status: number; body: T; text: string };
  destroy(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).toString();

export function createNetnsPair(tag: string): NetnsPair {
  const id = `${tag}${process.pid}`;
  const box = `ev-${id}-box`;
  const plant = `ev-${id}-plant`;
  // veth names: at most 15 characters.
  const boxIf = `vb${process.pid}`.slice(0, 15);
  const plantIf = `vp${process.pid}`.slice(0, 15);
  const boxAddr = '10.77.0.1';
  const plantAddr = '10.77.0.2';
  const plant2 = `ev-${id}-plant2`;
  const destroy = () => {
    for (const ns of [box, plant, plant2]) { try { ip('netns', 'del', ns); } catch { /* already gone */ } }
  };
  destroy();
  try {
    ip('netns', 'add', box);
    ip('netns', 'add', plant);
    // Created inside `box`, so no end of the pair ever sits in the machine's own namespace.
    ip('-n', box, 'link', 'add', boxIf, 'type', 'veth', 'peer', 'name', plantIf, 'netns', plant);
    for (const [ns, dev, addr] of [[box, boxIf, boxAddr], [plant, plantIf, plantAddr]] as const) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev);
      ip('-n', ns, 'link', 'set', dev, 'up');
      ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', dev);
    }
  } catch (err) {
    destroy();
    throw err;
  }
  const exec = (ns: string, cmd: string[], timeoutMs = 15_000) =>
    execFileSync('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs }).toString();
  const addPlant = () => {
    const b2 = `wb${process.pid}`.slice(0, 15);
    const p2 = `wp${process.pid}`.slice(0, 15);
    ip('netns', 'add', plant2);
    ip('-n', box, 'link', 'add', b2, 'type', 'veth', 'peer', 'name', p2, 'netns', plant2);
    ip('-n', box, 'addr', 'add', '10.78.0.1/24', 'dev', b2);
    ip('-n', box, 'link', 'set', b2, 'up');
    ip('-n', plant2, 'link', 'set', 'lo', 'up');
    ip('-n', plant2, 'addr', 'add', '10.78.0.2/24', 'dev', p2);
    ip('-n', plant2, 'link', 'set', p2, 'up');
    ip('-n', plant2, 'route', 'add', '224.0.0.0/4', 'dev', p2);
    return { ns: plant2, boxIf: b2, boxAddr: '10.78.0.1', plantAddr: '10.78.0.2' };
  };
  return {
    box, plant, boxIf, plantIf, boxAddr, plantAddr, exec, destroy, addPlant,
    spawn: (ns, cmd, opts = {}) => spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd }),
    http: <T>(ns: string, method: string, url: string, body?: unknown, timeoutS = 20) => {
      const args = ['curl', '-s', '-m', String(timeoutS), '-X', method, '-w', '\n%{http_code}', url];
      if (body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', JSON.stringify(body));
      const out = exec(ns, args, (timeoutS + 5) * 1000);
      const nl = out.lastIndexOf('\n');
      const text = out.slice(0, nl);
      let parsed: unknown;
      try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = text; }
      return { status: Number(out.slice(nl + 1)), text, body: parsed as T };
    },
  };
}

/** Resolves with the JSON after `READY ` on a child's stdout. */
export function readyLine<T>(child: ChildProcess, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    child.stderr?.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-2000); });
    const t = setTimeout(() => reject(new Error(`no READY line within ${timeoutMs} ms: ${err}`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /^READY (.*)$/m.exec(buf);
      if (m) { clearTimeout(t); resolve(JSON.parse(m[1]!) as T); }
    });
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`exited (${code}) before READY: ${err}`)); });
  });
}
