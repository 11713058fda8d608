// SOAP 1.2 over HTTP to one camera, spoken here rather than through the `onvif` package's Cam,
// for reasons measured against a SOAP device (see /work/shared/reference-numbers.md and
// test/integration/onvif-*.test.ts):
//  - timeouts: Cam's only bound is a socket idle timeout (default 120 s) and it takes no
//    AbortSignal, so a camera that trickles bytes or a service that stops cannot cut a request;
//    here every request has one deadline for the whole exchange and honours a stop signal;
//  - auth: Cam.connect() reports success with a wrong password, and it sends every digest call
//    twice (401, then retry); here a refused credential is an error with its own code and the
//    method that worked (WS-Security or HTTP digest) is remembered per camera;
//  - clock: Cam reads the camera clock once, in whole seconds against process.uptime(), and never
//    again; a camera that reboots with a new clock then refuses every digest. Here each refresh
//    measures the offset again and signs with it;
//  - addresses: Cam ignores the host and port of XAddrs; here they are read, and rewritten (and
//    reported) when they name an address other than the one the camera answered from;
//  - values: Cam turns numeric-looking strings into numbers (a serial "012345" becomes 12345).
// Discovery still uses the package (discovery.ts).
import { createHash, randomBytes } from 'node:crypto';
import { deadline } from '../../common/src/deadline.ts';
import { DigestSession, parseDigestChallenge } from './http-digest.ts';
import { OnvifError, onvifErrors } from './errors.ts';
import { at, esc, list, parseXml, text, type XmlNode } from './xml.ts';

/** A camera's credentials. Never logged, never in an answer (see credentials.ts). */
export interface Credentials { username: string; password: string }

/** How a camera accepts credentials; learnt on the first authenticated call, then remembered. */
export type AuthMethod = 'ws-security' | 'http-digest';

/** Per-camera auth state shared by the calls of one camera. */
export interface AuthState {
  credentials?: Credentials;
  /** Undefined until a call has succeeded with credentials. */
  method?: AuthMethod;
  /** Camera clock minus ours, in ms (from GetSystemDateAndTime): WS-Security `Created` uses it. */
  clockOffsetMs: number;
  digest?: DigestSession;
}

/** One SOAP request. */
export interface SoapRequest {
  url: string;
  /** Operation name, for errors and metrics (GetProfiles). */
  operation: string;
  /** The action URI (Content-Type action parameter). */
  action: string;
  /** The Body's content (one element). */
  body: string;
  /** Undefined: an unauthenticated call (GetSystemDateAndTime, GetServices). */
  auth?: AuthState;
  timeoutMs: number;
  signal?: AbortSignal;
}

export const NS = {
  tds: 'http://www.onvif.org/ver10/device/wsdl',
  trt: 'http://www.onvif.org/ver10/media/wsdl',
  tt: 'http://www.onvif.org/ver10/schema',
} as const;

const WSSE = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd';
const WSU = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd';
const DIGEST_TYPE = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest';

/** The WS-Security UsernameToken header, signed with the camera's clock (`now + offset`). */
export function usernameToken(c: Credentials, clockOffsetMs: number, now = Date.now()): string {
  const nonce = randomBytes(16);
  const created = new Date(now + clockOffsetMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const digest = createHash('sha1').update(Buffer.concat([nonce, Buffer.from(created + c.password, 'utf8')])).digest('base64');
  return `<wsse:Security s:mustUnderstand="1" xmlns:wsse="${WSSE}" xmlns:wsu="${WSU}"><wsse:UsernameToken>` +
    `<wsse:Username>${esc(c.username)}</wsse:Username><wsse:Password Type="${DIGEST_TYPE}">${digest}</wsse:Password>` +
    `<wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">${nonce.toString('base64')}</wsse:Nonce>` +
    `<wsu:Created>${created}</wsu:Created></wsse:UsernameToken></wsse:Security>`;
}

function envelope(body: string, header = ''): string {
  return `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="${NS.tds}" xmlns:trt="${NS.trt}" xmlns:tt="${NS.tt}">` +
    `<s:Header>${header}</s:Header><s:Body>${body}</s:Body></s:Envelope>`;
}

interface RawAnswer { status: number; text: string; challenge: ReturnType<typeof parseDigestChallenge> }

async function post(req: SoapRequest, xml: string, authorization?: string): Promise<RawAnswer> {
  const d = deadline(req.timeoutMs, req.signal);
  try {
    const res = await fetch(req.url, {
      method: 'POST',
      body: xml,
      headers: { 'content-type': `application/soap+xml; charset=utf-8; action="${req.action}"`, ...(authorization ? { authorization } : {}) },
      signal: d.signal,
      redirect: 'error',
    });
    // The body read is inside the same deadline: a camera that sends headers then stalls is hung too.
    const body = await res.text();
    return { status: res.status, text: body, challenge: parseDigestChallenge(res.headers.get('www-authenticate')) };
  } catch (err) {
    if (d.expired()) throw new OnvifError(onvifErrors.TIMEOUT, req.operation, `${req.operation}: no answer within ${req.timeoutMs} ms`, { cause: err });
    if (req.signal?.aborted) {
      const why = (req.signal.reason as Error | undefined)?.name === 'TimeoutError' ? 'the refresh ran out of time' : 'cancelled (stopping)';
      throw new OnvifError(onvifErrors.TIMEOUT, req.operation, `${req.operation}: ${why}`, { cause: err });
    }
    const e = err as { cause?: { code?: string; message?: string }; message?: string };
    const why = e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
    throw new OnvifError(onvifErrors.CONNECT, req.operation, `${req.operation}: cannot connect: ${why}`, { cause: err });
  } finally {
    d.clear();
  }
}

/** The SOAP fault of an answer, if it is one: subcode (ter:NotAuthorized) and reason. */
function faultOf(body: unknown): { subcode: string; reason: string } | undefined {
  const fault = at(body, 'Fault');
  if (fault === undefined) return undefined;
  const subcode = text(at(fault, 'Code', 'Subcode', 'Value')) ?? text(at(fault, 'Code', 'Value')) ?? '';
  const reason = text(at(fault, 'Reason', 'Text')) ?? '';
  return { subcode, reason };
}

async function parseAnswer(req: SoapRequest, raw: RawAnswer): Promise<XmlNode> {
  let doc: XmlNode;
  try {
    doc = await parseXml(raw.text);
  } catch {
    throw new OnvifError(onvifErrors.BAD_RESPONSE, req.operation, `${req.operation}: HTTP ${raw.status}, not XML`);
  }
  const body = at(doc, 'Envelope', 'Body');
  if (body === undefined || typeof body !== 'object') throw new OnvifError(onvifErrors.BAD_RESPONSE, req.operation, `${req.operation}: HTTP ${raw.status}, not a SOAP envelope`);
  const fault = faultOf(body);
  if (fault) {
    const code = /NotAuthorized|FailedAuthentication|InvalidSecurity/i.test(fault.subcode + fault.reason) ? onvifErrors.AUTH : onvifErrors.FAULT;
    throw new OnvifError(code, req.operation, `${req.operation}: SOAP fault ${fault.subcode || '(no subcode)'}: ${fault.reason}`.slice(0, 300));
  }
  if (raw.status >= 300) throw new OnvifError(onvifErrors.BAD_RESPONSE, req.operation, `${req.operation}: HTTP ${raw.status}`);
  return body as XmlNode;
}

/**
 * Sends one request and returns the SOAP Body. With `auth`, signs with WS-Security unless the
 * camera is known to want HTTP digest; a 401 with a digest challenge switches to digest (and the
 * switch is remembered in `auth.method`). Errors: OnvifError with TIMEOUT, CONNECT, AUTH,
 * NO_CREDENTIALS, FAULT or BAD_RESPONSE.
 */
export async function soapCall(req: SoapRequest): Promise<XmlNode> {
  const a = req.auth;
  if (!a) return parseAnswer(req, await post(req, envelope(req.body)));
  if (!a.credentials) {
    const raw = await post(req, envelope(req.body));
    const noCreds = () => new OnvifError(onvifErrors.NO_CREDENTIALS, req.operation, `${req.operation}: the camera asks for credentials and none are configured (PUT /credentials/default, or POST /cameras with username and password)`);
    if (raw.status === 401) throw noCreds();
    try {
      return await parseAnswer(req, raw);
    } catch (err) {
      throw (err as OnvifError).code === onvifErrors.AUTH ? noCreds() : err;
    }
  }
  const creds = a.credentials;
  const path = new URL(req.url).pathname;
  if (a.method === 'http-digest' && a.digest) {
    const raw = await post(req, envelope(req.body), a.digest.authorization('POST', path));
    if (raw.status !== 401 || !raw.challenge) return parseAnswer(req, raw);
    // Stale nonce: take the new challenge once.
    return digestRetry(req, raw, creds, path);
  }
  const raw = await post(req, envelope(req.body, usernameToken(creds, a.clockOffsetMs)));
  if (raw.status === 401 && raw.challenge) return digestRetry(req, raw, creds, path);
  const body = await parseAnswer(req, raw);
  a.method = 'ws-security';
  return body;
}

async function digestRetry(req: SoapRequest, raw: RawAnswer, creds: Credentials, path: string): Promise<XmlNode> {
  const a = req.auth!;
  const session = new DigestSession(raw.challenge!, creds.username, creds.password);
  const again = await post(req, envelope(req.body), session.authorization('POST', path));
  if (again.status === 401) throw new OnvifError(onvifErrors.AUTH, req.operation, `${req.operation}: HTTP digest refused (wrong user name or password)`);
  const body = await parseAnswer(req, again);
  a.method = 'http-digest';
  a.digest = session;
  return body;
}

export { list, text, at };
