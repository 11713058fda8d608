import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { child, esc, parse, textOf } from './onvif-soap.ts';
import type { SimCamera } from './onvif-camera.ts';

/**
 * The WS-Discovery side of the simulated cameras: joins 239.255.255.250:3702 and answers each
 * Probe for NetworkVideoTransmitter (or for any type) with one ProbeMatches per camera, sent
 * unicast to the probe's source address and port, with RelatesTo = the probe's MessageID,
 * the camera's EndpointReference, Types, Scopes and XAddrs, as real cameras do.
 * Multicast: run it only inside a network namespace a test created (see test/README.md).
 */
export interface DiscoveryResponder {
  /** Probes received. */
  probes(): number;
  stop(): Promise<void>;
}

export async function startDiscoveryResponder(opts: { cameras: () => readonly SimCamera[]; interfaceAddress: string }): Promise<DiscoveryResponder> {
  const sock: Socket = createSocket({ type: 'udp4', reuseAddr: true });
  let probes = 0;
  sock.on('message', (msg, rinfo) => {
    void (async () => {
      const env = child(await parse(msg.toString('utf8')), 'Envelope');
      const probe = child(env, 'Body', 'Probe');
      if (!probe) return;
      const types = textOf(child(probe, 'Types')) ?? '';
      if (types && !/NetworkVideoTransmitter/.test(types)) return;
      probes++;
      const relatesTo = textOf(child(env, 'Header', 'MessageID')) ?? '';
      for (const cam of opts.cameras()) {
        const o = cam.options;
        const scopes = ['onvif://www.onvif.org/type/video_encoder', 'onvif://www.onvif.org/Profile/Streaming',
          `onvif://www.onvif.org/name/${encodeURIComponent(o.model)}`, `onvif://www.onvif.org/hardware/${encodeURIComponent(o.hardwareId)}`,
          'onvif://www.onvif.org/location/plant'].join(' ');
        const xml = '<?xml version="1.0" encoding="UTF-8"?>' +
          '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" ' +
          'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><env:Header>' +
          `<wsa:MessageID>urn:uuid:${randomBytes(16).toString('hex')}</wsa:MessageID><wsa:RelatesTo>${esc(relatesTo)}</wsa:RelatesTo>` +
          '<wsa:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>' +
          '<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action></env:Header><env:Body>' +
          `<d:ProbeMatches><d:ProbeMatch><wsa:EndpointReference><wsa:Address>${esc(o.endpointReference)}</wsa:Address></wsa:EndpointReference>` +
          `<d:Types>dn:NetworkVideoTransmitter</d:Types><d:Scopes>${esc(scopes)}</d:Scopes><d:XAddrs>${esc(cam.xaddr())}</d:XAddrs>` +
          '<d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></env:Body></env:Envelope>';
        sock.send(xml, rinfo.port, rinfo.address);
      }
    })().catch(() => { /* not a SOAP probe: real cameras ignore junk too */ });
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(3702, () => {
      sock.addMembership('239.255.255.250', opts.interfaceAddress);
      resolve();
    });
  });
  return { probes: () => probes, stop: () => new Promise((r) => sock.close(() => r())) };
}
