// XML for SOAP: parsing with xml2js, the parser the `onvif` package itself depends on (resolved
// through the package, so no second XML library enters the tree). Unlike the package's own
// parseSOAPString, nothing is coerced: a serial "012345" stays a string (the package turns
// numeric-looking strings into numbers and loses leading zeros).
import { createRequire } from 'node:module';

interface Xml2js {
  parseStringPromise(xml: string, opts: Record<string, unknown>): Promise<unknown>;
  processors: { stripPrefix(name: string): string };
}
const requireFromOnvif = createRequire(createRequire(import.meta.url).resolve('onvif'));
const xml2js = requireFromOnvif('xml2js') as Xml2js;

/** A parsed element: child elements by local name, attributes under `$`, text under `_`. */
export type XmlNode = { [name: string]: XmlValue } & { $?: Record<string, string>; _?: string };
export type XmlValue = XmlNode | XmlNode[] | string | string[];

/**
 * Parses a document; element and attribute names lose their namespace prefixes. Never throws on
 * a well-formed document; throws on malformed XML (callers map that to a BAD_RESPONSE error).
 */
export async function parseXml(xml: string): Promise<XmlNode> {
  const doc = await xml2js.parseStringPromise(xml, {
    explicitArray: false,
    tagNameProcessors: [xml2js.processors.stripPrefix],
    attrNameProcessors: [xml2js.processors.stripPrefix],
    // Drop xmlns attributes: they say nothing the stripped names need.
    xmlns: false,
    strict: true,
  });
  return (doc ?? {}) as XmlNode;
}

/** Follows a path of local element names; undefined when any step is missing. */
export function at(node: unknown, ...path: string[]): unknown {
  let cur = node;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = Array.isArray(cur) ? (cur[0] as XmlNode)?.[p] : (cur as XmlNode)[p];
  }
  return cur;
}

/** The text of an element (a string, or `_` of an element with attributes). */
export function text(node: unknown): string | undefined {
  if (typeof node === 'string') return node.trim();
  if (Array.isArray(node)) return text(node[0]);
  if (node && typeof node === 'object' && typeof (node as XmlNode)._ === 'string') return (node as XmlNode)._!.trim();
  return undefined;
}

/** Always an array: a single child becomes `[child]`, a missing one `[]`. */
export function list(node: unknown): XmlNode[] {
  if (node === undefined || node === null || node === '') return [];
  return (Array.isArray(node) ? node : [node]) as XmlNode[];
}

/** An attribute of an element (prefix stripped). */
export function attr(node: unknown, name: string): string | undefined {
  const n = Array.isArray(node) ? node[0] : node;
  return n && typeof n === 'object' ? (n as XmlNode).$?.[name] : undefined;
}

/** Escapes text for an XML element or attribute value. */
export function esc(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}
