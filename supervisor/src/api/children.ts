/**
 * Children added to and deleted from the running tree (technician token):
 * - `POST /v1/children` body `{"parent": "<supervisor id>", "child": {...}}`: under a
 *   simple_one_for_one supervisor `child` is the template's overrides `{id?, env?, args?, options?}`
 *   as its backend takes them (spec/load.ts TEMPLATE_OVERRIDES; or absent); under any other
 *   supervisor it is a child spec as in the tree file (YAML's keys, as
 *   JSON), checked by the same schema. 201 `{added, parent, child: <its snapshot>}`; 400
 *   `EDGEVISOR_ERR_SPEC_INVALID` / `BAD_REQUEST` naming each field, 404 `UNKNOWN_CHILD` (no such
 *   parent), 409 `CHILD_EXISTS` (id taken) or `STATE_CONFLICT` (a worker as parent, max_children).
 * - `DELETE /v1/children/:id`: stops a child added at run time, then deletes it. 202
 *   `{accepted, action: "delete", child}`; 409 for a child of the tree file (stop it instead).
 * Both are `manual` events with the role and `via` (x-edgevisor-via), like the other actions.
 */
import type { FastifyInstance } from 'fastify';
import type { ChildSnapshot, Role, Tree } from '../runtime/types.ts';
import { badRequest } from './errors.ts';

export interface ChildAdded {
  added: string;
  parent: string;
  child: ChildSnapshot;
}

const BODY = '{"parent": "<supervisor id>", "child": {...}}';

export function registerChildrenRoutes(
  app: FastifyInstance,
  tree: Tree,
  opts: { technician: { config: { role: Role } }; via: (raw: string | string[] | undefined) => string },
): void {
  app.post<{ Body: unknown }>('/v1/children', opts.technician, async (req, reply) => {
    const actor = { role: req.role ?? ('technician' as const), via: opts.via(req.headers['x-edgevisor-via']) };
    const body = req.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest(`body: expected JSON ${BODY}`);
    const { parent, child, ...rest } = body as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length) throw badRequest(`${extra[0]}: unknown field; accepted: parent, child`);
    if (typeof parent !== 'string' || parent.length === 0 || parent.length > 200) throw badRequest(`parent: expected the id of a supervisor, got ${parent === undefined ? 'nothing' : JSON.stringify(parent).slice(0, 60)}`);
    const snap = tree.addChild(parent, child, actor);
    const answer: ChildAdded = { added: snap.id, parent, child: snap };
    return reply.code(201).send(answer);
  });

  app.delete<{ Params: { id: string } }>('/v1/children/:id', opts.technician, async (req, reply) => {
    const actor = { role: req.role ?? ('technician' as const), via: opts.via(req.headers['x-edgevisor-via']) };
    tree.removeChild(req.params.id, actor);
    return reply.code(202).send({ accepted: true, action: 'delete', child: req.params.id });
  });
}
