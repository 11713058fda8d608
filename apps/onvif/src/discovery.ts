// WS-Discovery through the `onvif` package's Discovery.probe, once per interface: the package
// binds one socket to one interface (or the default route) per probe. Around it, what the
// package leaves out: the interface list (up, multicast on, IPv4), de-duplication by endpoint
// reference across interfaces, RelatesTo checked against our MessageID (the package does not),
// the replying address (for the XAddr rewrite), and a guard for its `error` events (emitted on a
// singleton EventEmitter: with no listener, one malformed reply would crash the process).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { networkInterfaces } from 'node:os';
import { randomUUID } from 'node:crypto';
import { parseXml, at, text, list } from './xml.ts';

interface RInfo { address: string; port: number }
interface DiscoverySingleton {
  probe(opts: Record<string, unknown>, cb: (err: unknown, found: unknown[]) => void): void;
  on(ev: string, fn: (...a: unknown[]) => void): void;
  removeListener(ev: string, fn: (...a: unknown[]) => void): void;
}
const { Discovery } = createRequire(import.meta.url)('onvif') as { Discovery: DiscoverySingleton };
Discovery.on('error', () => { /* a malformed reply: ignored, as cameras ignore junk */ });

/** One device found: what its ProbeMatch said and where it answered from. */
export interface DiscoveredDevice {
  endpointReference: string;
  xaddrs: string[];
  scopes: string[];
  types: string[];
  /** The source address of its reply: the address the box can reach it on. */
  answeredFrom: string;
  /** Interface the probe went out on. */
  interface: string;
}

export interface DiscoveryRun {
  devices: DiscoveredDevice[];
  interfaces: string[];
  durationMs: number;
  /** Replies that did not parse or did not relate to our probe. */
  ignoredReplies: number;
}

const IFF_UP = 0x1;
const IFF_MULTICAST = 0x1000;

/**
 * Interfaces to probe: IPv4, up and with multicast on (read from /sys/class/net/<if>/flags; Node's
 * os.networkInterfaces() does not say). Loopback counts only when someone turned multicast on.
 */
export function multicastInterfaces(only?: readonly string[]): string[] {
  const out: string[] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (only && !only.includes(name)) continue;
    if (!addrs?.some((a) => a.family === 'IPv4')) continue;
    let flags = 0;
    try {
      flags = parseInt(readFileSync(`/sys/class/net/${name}/flags`, 'utf8').trim(), 16);
    } catch {
      continue;
    }
    if ((flags & IFF_UP) && (flags & IFF_MULTICAST)) out.push(name);
  }
  return out.sort();
}

/** Probes every interface at once; resolves after `listenMs` with the de-duplicated devices. */
export async function discover(opts: { listenMs: number; interfaces?: readonly string[] }): Promise<DiscoveryRun> {
  const t0 = Date.now();
  const ifaces = multicastInterfaces(opts.interfaces);
  const byRef = new Map<string, DiscoveredDevice>();
  let ignored = 0;
  const pending: Promise<void>[] = [];
  await Promise.all(ifaces.map((iface) => new Promise<void>((resolve) => {
    const messageId = randomUUID();
    const onDevice = (_data: unknown, rinfo: unknown, xml: unknown) => {
      pending.push(parseMatch(String(xml), `urn:uuid:${messageId}`, (rinfo as RInfo).address, iface).then((d) => {
        if (!d) { ignored++; return; }
        if (!byRef.has(d.endpointReference)) byRef.set(d.endpointReference, d);
      }, () => { ignored++; }));
    };
    Discovery.on('device', onDevice);
    let settled = false;
    const done = () => { if (settled) return; settled = true; Discovery.removeListener('device', onDevice); resolve(); };
    try {
      // resolve:false: the package would otherwise construct a Cam per reply, which connects
      // at once with its 120 s timeout.
      Discovery.probe({ device: iface, timeout: opts.listenMs, resolve: false, messageId }, () => done());
    } catch {
      done();
    }
    // A bind error calls back early, the timer later: the listener stays until the window ends.
    setTimeout(done, opts.listenMs + 200).unref();
  })));
  await Promise.all(pending);
  return { devices: [...byRef.values()], interfaces: ifaces, durationMs: Date.now() - t0, ignoredReplies: ignored };
}

async function parseMatch(xml: string, messageId: string, from: string, iface: string): Promise<DiscoveredDevice | undefined> {
  const env = at(await parseXml(xml), 'Envelope');
  // Replies to another probe (another process, another interface's run) are not ours.
  if (text(at(env, 'Header', 'RelatesTo')) !== messageId) return undefined;
  const match = list(at(env, 'Body', 'ProbeMatches', 'ProbeMatch'))[0];
  const ref = text(at(match, 'EndpointReference', 'Address'));
  if (!ref) return undefined;
  const words = (k: string) => (text(at(match, k)) ?? '').split(/\s+/).filter(Boolean);
  return { endpointReference: ref, xaddrs: words('XAddrs'), scopes: words('Scopes'), types: words('Types'), answeredFrom: from, interface: iface };
}
