import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { TreeEvent } from '../core/events.ts';
import { EdgevisorError, codes } from '../errors.ts';
import type { Actor, ChildSnapshot, Tree, TreeSnapshot } from '../runtime/types.ts';
import { toErrorAnswer } from '../api/errors.ts';
import { deleting, parseAddChildBody, parseVia, type ChildAdded } from '../api/children-body.ts';

/**
 * How an app joins the box's tree: it runs its own supervision tree with this library and serves
 * it on its own port with these routes; the supervisor (inner/inner-tree.ts, `inner_tree:` on
 * the app's child) polls them and merges the nodes under the app's child as `<child>/<id>`.
 *
 * - `GET /v1/tree` the app's TreeSnapshot plus `instance` (random per app start) and `lastSeq`;
 * - `GET /v1/events?since=SEQ&limit=N` `{ events, lastSeq, instance }`: the app tree's events
 *   after SEQ, oldest first, from a bounded ring (the last `ringSize`);
 * - `POST /v1/children/:id/restart|stop|start` 202 `{ accepted, action, child }`, 404
 *   EDGEVISOR_ERR_UNKNOWN_CHILD, 409 EDGEVISOR_ERR_STATE_CONFLICT, 400 for a bad action or via;
 * - `POST /v1/children` `{parent, child}` and `DELETE /v1/children/:id`: the supervisor API's
 *   dynamic-children contract (api/children.ts) for this tree, same body checks
 *   (api/children-body.ts), same answers and codes (201 `{added, parent, child}`, 202 `{accepted,
 *   action: "delete", child}`; 400 naming the field, 404, 409 CHILD_EXISTS / STATE_CONFLICT). The
 *   app may put its own step around them (`children`: the camera controller registers a camera
 *   before its worker is added under `discovered`).
 *
 * No authentication: like the rest of an app's port these routes are meant for loopback and the
 * compose network only (the supervisor holds the tokens and checks them before it forwards).
 */
export interface InnerRoutesOptions {
  /** Adds app facts to a node (primitive `info` fields pass through the supervisor's merge). */
  decorate?: (node: ChildSnapshot) => ChildSnapshot;
  /** Events kept for /v1/events (default 2000). */
  ringSize?: number;
  /**
   * The app's own add and delete (default `tree.addChild` / `tree.removeChild`), for an app that
   * must prepare or release something of its own around a child; they throw as those do.
   */
  children?: {
    add?(parent: string, child: unknown, actor: Actor): ChildSnapshot;
    remove?(id: string, actor: Actor): void;
  };
}

/** What an app's GET /v1/tree answers: a TreeSnapshot plus the app run's id. */
export interface PublishedTree extends TreeSnapshot {
  instance: string;
  /** The last event's seq (0 before any): the supervisor asks /v1/events only when it moved. */
  lastSeq: number;
}

const actionNames = ['restart', 'stop', 'start'] as const;
const maxLimit = 1000;

function count(raw: unknown, field: string, fallback: number): number {
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw)) throw new EdgevisorError(codes.BAD_REQUEST, `${field}: expected an integer >= 0, got ${JSON.stringify(String(raw).slice(0, 40))}`);
  return Number(raw);
}

/** Serves `tree` on an app's fastify instance for the supervisor's `inner_tree` polling (routes above); `close()` stops recording its events. */
export function registerInnerTreeRoutes(app: FastifyInstance, tree: Tree, opts: InnerRoutesOptions = {}): { close(): void } {
  const instance = randomUUID();
  const size = opts.ringSize ?? 2000;
  const ring: TreeEvent[] = [];
  const unsubscribe = tree.onEvent((e) => {
    ring.push(e);
    if (ring.length > size) ring.splice(0, ring.length - size);
  });
  const decorate = opts.decorate ?? ((n: ChildSnapshot) => n);

  app.get('/v1/tree', async (): Promise<PublishedTree> => {
    const snap = tree.snapshot();
    return { ...snap, nodes: snap.nodes.map(decorate), instance, lastSeq: ring.at(-1)?.seq ?? 0 };
  });

  app.get<{ Querystring: Record<string, unknown> }>('/v1/events', async (req, reply) => {
    try {
      const since = count(req.query['since'], 'since', 0);
      const limit = Math.min(maxLimit, Math.max(1, count(req.query['limit'], 'limit', 500)));
      const events = ring.filter((e) => e.seq > since).slice(0, limit);
      return { events, lastSeq: ring.at(-1)?.seq ?? 0, instance };
    } catch (err) {
      const { status, body } = toErrorAnswer(err);
      return reply.code(status).send(body);
    }
  });

  // Anyone who can reach this port may act (see above); the supervisor says when it passed a technician's action on.
  const actorOf = (headers: Record<string, string | string[] | undefined>): Actor => {
    const actor: Actor = { role: 'technician', via: parseVia(headers['x-edgevisor-via']) };
    if (headers['x-edgevisor-forwarded-by'] === 'supervisor') actor.forwardedBy = 'supervisor';
    return actor;
  };
  const add = opts.children?.add ?? ((parent: string, child: unknown, actor: Actor) => tree.addChild(parent, child, actor));
  const remove = opts.children?.remove ?? ((id: string, actor: Actor) => tree.removeChild(id, actor));

  app.post<{ Body: unknown }>('/v1/children', async (req, reply) => {
    try {
      const actor = actorOf(req.headers);
      const { parent, child } = parseAddChildBody(req.body);
      const snap = decorate(add(parent, child, actor));
      const answer: ChildAdded = { added: snap.id, parent, child: snap };
      return reply.code(201).send(answer);
    } catch (err) {
      const { status, body } = toErrorAnswer(err);
      return reply.code(status).send(body);
    }
  });

  app.delete<{ Params: { id: string } }>('/v1/children/:id', async (req, reply) => {
    try {
      remove(req.params.id, actorOf(req.headers));
      return reply.code(202).send(deleting(req.params.id));
    } catch (err) {
      const { status, body } = toErrorAnswer(err);
      return reply.code(status).send(body);
    }
  });

  app.post<{ Params: { id: string; action: string } }>('/v1/children/:id/:action', async (req, reply) => {
    try {
      const action = actionNames.find((a) => a === req.params.action);
      if (!action) throw new EdgevisorError(codes.BAD_REQUEST, `action: expected ${actionNames.join(', ')}, got ${JSON.stringify(req.params.action.slice(0, 40))}`);
      const actor = actorOf(req.headers);
      if (action === 'restart') tree.restartChild(req.params.id, actor);
      else if (action === 'stop') tree.stopChild(req.params.id, actor);
      else tree.startChild(req.params.id, actor);
      return reply.code(202).send({ accepted: true, action, child: req.params.id });
    } catch (err) {
      const { status, body } = toErrorAnswer(err);
      return reply.code(status).send(body);
    }
  });

  return { close: unsubscribe };
}
