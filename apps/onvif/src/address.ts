import { AppError } from '../../common/src/index.ts';
import { onvifErrors } from './errors.ts';
import type { Rewrite } from './device.ts';

/**
 * Parses a camera address as a technician types it: `host`, `host:port` or the device service
 * URL. Userinfo is refused (credentials go in their own fields, never in an address).
 */
export function parseAddress(input: string): URL {
  const raw = input.trim();
  let u: URL;
  try {
    u = new URL(/^https?:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw new AppError(onvifErrors.BAD_REQUEST, 'address: expected host, host:port or http://host:port/onvif/device_service');
  }
  if (u.username || u.password) throw new AppError(onvifErrors.BAD_REQUEST, 'address: credentials in an address are refused; send username and password fields');
  if (!u.hostname) throw new AppError(onvifErrors.BAD_REQUEST, 'address: expected a host');
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/onvif/device_service';
  u.search = '';
  u.hash = '';
  return u;
}

/** `host:port` of a device URL (the port made explicit). */
export function hostPort(u: URL): string {
  return `${u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
}

/** An id for a camera added by address: `addr-10-0-0-5-80`. */
export function addressId(u: URL): string {
  return `addr-${hostPort(u).replace(/[^a-zA-Z0-9]+/g, '-').toLowerCase()}`;
}

/** An id for a discovered camera: its endpoint reference without `urn:uuid:`. */
export function endpointId(ref: string): string {
  return ref.replace(/^urn:(uuid:)?/i, '').replace(/[^a-zA-Z0-9_-]+/g, '-').toLowerCase().slice(0, 63);
}

/**
 * The device URL of a discovered camera: the XAddr on the address it answered from, or else the
 * first XAddr moved to that address (NAT, second NIC), recorded as a rewrite.
 */
export function deviceUrlFromDiscovery(xaddrs: readonly string[], answeredFrom: string): { url: URL; rewrite?: Rewrite } | undefined {
  const urls = xaddrs.map((x) => { try { return new URL(x); } catch { return undefined; } }).filter((u): u is URL => !!u && /^https?:$/.test(u.protocol));
  const same = urls.find((u) => u.hostname === answeredFrom);
  if (same) return { url: same };
  const first = urls[0];
  if (!first) return undefined;
  const to = new URL(first);
  to.hostname = answeredFrom;
  return { url: to, rewrite: { what: 'discovery XAddr', from: first.toString(), to: to.toString() } };
}
