import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { TreeEvent } from '../core/events.ts';
import { EdgevisorError, codes } from '../errors.ts';
import type { Actor, ChildSnapshot, Tree, TreeSnapshot } from '../runtime/types.ts';
import { toErrorAnswer } from '../api/errors.ts';

/**
 * How an app joins the box's tree: it runs its own supervision tree with this library and serves
 * it on its own port with these routes; the supervisor (inner/inner-tree.ts, `inner_tree:` on
 * the app's child) polls them and merges the nodes under the app's child as `<child>/<id>`.
 *
 * - `GET /v1/tree` the app's TreeSnapshot plus `instance` (random per app start) and `lastSeq`;
 * - `GET /v1/events?since=SEQ&limit=N` `{ events, lastSeq, instance }`: the app tree's events
 *   after SEQ, oldest first, from a bounded ring (the last `ringSize`);
 * - `POST /v1/children/:id/restart|stop|start` 202 `{ accepted, action, child }`, 404
 *   EDGEVISOR_ERR_UNKNOWN_CHILD, 409 EDGEVISOR_ERR_STATE_CONFLICT, 400 for a bad action or via.
 *
 * No authentication: like the rest of an app's port these routes are meant for loopback and the
 * compose network only (the supervisor holds the tokens and checks them before it forwards).
 */
export interface InnerRoutesOptions {
  /** Adds app facts to a node (primitive `info` fields pass through the supervisor's merge). */
  decorate?: (node: ChildSnapshot) => ChildSnapshot;
  /** Events kept for /v1/events (default 2000). */
  ringSize?: number;
}

/** What an app's GET /v1/tree answers: a TreeSnapshot plus the app run's id. */
export interface PublishedTree extends TreeSnapshot {
  instance: string;
  /** The last event's seq (0 before any): the supervisor asks /v1/events only when it moved. */
  lastSeq: number;
}

const actionNames = ['restart', 'stop', 'start'] as const;
const vias = ['dashboard', 'cli', 'api'] as const;
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

  app.post<{ Params: { id: string; action: string } }>('/v1/children/:id/:action', async (req, reply) => {
    try {
      const action = actionNames.find((a) => a === req.params.action);
      if (!action) throw new EdgevisorError(codes.BAD_REQUEST, `action: expected ${actionNames.join(', ')}, got ${JSON.stringify(req.params.action.slice(0, 40))}`);
      const rawVia = req.headers['x-edgevisor-via'];
      const via = rawVia === undefined ? 'api' : vias.find((v) => v === rawVia);
      if (!via) throw new EdgevisorError(codes.BAD_REQUEST, `x-edgevisor-via: expected one of ${vias.join(', ')}`);
      // Anyone who can reach this port may act (see above); the supervisor says when it passed a technician's action on.
      const actor: Actor = { role: 'technician', via };
      if (req.headers['x-edgevisor-forwarded-by'] === 'supervisor') actor.forwardedBy = 'supervisor';
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
