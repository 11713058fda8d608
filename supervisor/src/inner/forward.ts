/**
 * A technician's request passed on to the app that owns an inner node (inner/inner-tree.ts):
 * restart|stop|start, delete and add, on the app's port with the inner tree contract
 * (inner/routes.ts). One request with a deadline; the app's refusal comes back with its status
 * and stable code unchanged (404, 409, 400 naming the field), anything else as INNER_UNAVAILABLE
 * (API 502), and never with the app's URL in the message.
 */
import { EdgevisorError, codes, type ErrorCode } from '../errors.ts';
import type { Actor } from '../runtime/types.ts';

/** A forwarded request waits at least this long for the app's answer. */
export const MIN_FORWARD_TIMEOUT_MS = 2_000;

/** The codes an app's refusal keeps, by status; the first is used when the app named none of them. */
const passedCodes: Record<number, readonly ErrorCode[]> = {
  400: [codes.BAD_REQUEST, codes.SPEC_INVALID],
  404: [codes.UNKNOWN_CHILD],
  409: [codes.STATE_CONFLICT, codes.CHILD_EXISTS],
};

export interface ForwardRequest {
  method: 'POST' | 'DELETE';
  /** Under the app's URL, e.g. `/v1/children/dock/restart`. */
  path: string;
  /** The route's pattern, for messages: `POST /v1/children/:id/restart`. */
  route: string;
  body?: unknown;
  actor: Actor;
  /** The status the app answers on success (202, 201). */
  expect: number;
  /** For messages: the outer child, the full id acted on, and what was asked ("restart", "delete", "add"). */
  childId: string;
  fullId: string;
  what: string;
}

/** Sends `req` to the app at `baseUrl`; resolves with the body of its success answer, or throws (see above). */
export async function forwardToApp(baseUrl: string, req: ForwardRequest, timeoutMs: number): Promise<unknown> {
  let status: number;
  let body: unknown;
  const wait = Math.max(MIN_FORWARD_TIMEOUT_MS, timeoutMs);
  try {
    const res = await fetch(`${baseUrl}${req.path}`, {
      method: req.method,
      // The app records it as forwarded (and we skip its echo of our own manual event).
      headers: {
        accept: 'application/json',
        'x-edgevisor-via': req.actor.via ?? 'api',
        'x-edgevisor-forwarded-by': 'supervisor',
        ...(req.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(req.body !== undefined ? { body: JSON.stringify(req.body) } : {}),
      signal: AbortSignal.timeout(wait),
      redirect: 'error',
    });
    status = res.status;
    body = await res.json().catch(() => null);
  } catch (err) {
    const e = err as { name?: string };
    throw new EdgevisorError(codes.INNER_UNAVAILABLE, `${req.childId} did not take the ${req.what} of ${req.fullId}: ${e.name === 'TimeoutError' ? `no answer within ${wait}ms` : 'not reachable'}`);
  }
  if (status === req.expect) return body;
  const error = (body as { error?: { message?: unknown; code?: unknown } } | null)?.error;
  const why = typeof error?.message === 'string' ? error.message.slice(0, 500) : `status ${status}`;
  const allowed = passedCodes[status];
  // A 404 that is not about the child (an app from before this route): the app cannot take it.
  if (status === 404 && error?.code !== codes.UNKNOWN_CHILD) throw new EdgevisorError(codes.INNER_UNAVAILABLE, `${req.childId} does not take the ${req.what} of ${req.fullId} (no route ${req.route} there): ${why}`);
  if (!allowed) throw new EdgevisorError(codes.INNER_UNAVAILABLE, `${req.childId} refused the ${req.what} of ${req.fullId}: ${why}`);
  const code = allowed.find((c) => c === error?.code) ?? allowed[0]!;
  if (status === 404) throw new EdgevisorError(code, `no child "${req.fullId}" (${req.childId} says: ${why})`);
  throw new EdgevisorError(code, `${req.fullId}: ${why}`);
}
