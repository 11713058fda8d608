// SOAP helpers of the simulated ONVIF camera: request parsing (xml2js, resolved through the
// `onvif` package, with its own options: the sim shares no code with the service it tests),
// response envelopes and the faults a real camera sends.
import { createRequire } from 'node:module';

interface Xml2js { parseStringPromise(xml: string, opts: Record<string, unknown>): Promise<unknown>; processors: { stripPrefix(n: string): string } }
const xml2js = createRequire(createRequire(import.meta.url).resolve('onvif'))('xml2js') as Xml2js;

/** A parsed element: children by local name (arrays), attributes in `$`, text in `_`. */
export type Node = { [k: string]: Node[] | undefined } & { $?: Record<string, string>; _?: string };

export async function parse(xml: string): Promise<Node> {
  return (await xml2js.parseStringPromise(xml, { explicitArray: true, explicitCharkey: true, tagNameProcessors: [xml2js.processors.stripPrefix], attrNameProcessors: [xml2js.processors.stripPrefix] })) as Node;
}

/** The first child at a path of local names. */
export function child(n: Node | undefined, ...path: string[]): Node | undefined {
  let cur: unknown = n;
  for (const p of path) {
    const v = (cur as Record<string, unknown> | undefined)?.[p];
    cur = Array.isArray(v) ? v[0] : v;
    if (typeof cur !== 'object' || cur === null) return undefined;
  }
  return cur as Node;
}
export const textOf = (n: Node | undefined): string | undefined => (n?._ ?? undefined)?.trim();

export const esc = (s: string) => s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);

const NS = 'xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" ' +
  'xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:ter="http://www.onvif.org/ver10/error"';

export function envelope(body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<env:Envelope ${NS}><env:Header/><env:Body>${body}</env:Body></env:Envelope>`;
}

/** A SOAP 1.2 fault as ONVIF devices send them (Core spec 5.11: Code, Subcode, Reason). */
export function fault(code: 'env:Sender' | 'env:Receiver', subcode: string, reason: string): string {
  return envelope(`<env:Fault><env:Code><env:Value>${code}</env:Value><env:Subcode><env:Value>${subcode}</env:Value></env:Subcode></env:Code>` +
    `<env:Reason><env:Text xml:lang="en">${esc(reason)}</env:Text></env:Reason></env:Fault>`);
}

/** What a camera answers to a refused WS-Security token (HTTP 400). */
export const notAuthorized = () => fault('env:Sender', 'ter:NotAuthorized', 'Sender not Authorized');
