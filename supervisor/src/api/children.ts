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
 *
 * An inner id (`camera/discovered` as the parent, `camera/<cam>` to delete: a node of an app's
 * inner tree, inner/inner-tree.ts) is passed to its app, which serves the same contract for its
 * own tree (inner/routes.ts, same body checks: children-body.ts) and answers for it: its 201/202
 * and its refusals come back with their status and code; an app that does not answer in time is
 * a 502 `INNER_UNAVAILABLE`. The `manual` event is the supervisor's, with the role it checked.
 */
import type { FastifyInstance } from 'fastify';
import type { Role, Tree } from '../runtime/types.ts';
import { deleting, parseAddChildBody, type ChildAdded } from './children-body.ts';

export type { ChildAdded } from './children-body.ts';

export function registerChildrenRoutes(
  app: FastifyInstance,
  tree: Tree,
  opts: { technician: { config: { role: Role } }; via: (raw: string | string[] | undefined) => string },
): void {
  /** A node of an app's inner tree (as of the last poll): its app answers for it. An unknown `a/b` too: the 404 then names the inner ids. */
  const isInner = (id: string) => {
    const node = tree.child(id);
    return node ? node.inner === true : id.includes('/');
  };

  app.post<{ Body: unknown }>('/v1/children', opts.technician, async (req, reply) => {
    const actor = { role: req.role ?? ('technician' as const), via: opts.via(req.headers['x-edgevisor-via']) };
    const { parent, child } = parseAddChildBody(req.body);
    const snap = isInner(parent) ? await tree.innerAdd(parent, child, actor) : tree.addChild(parent, child, actor);
    const answer: ChildAdded = { added: snap.id, parent, child: snap };
    return reply.code(201).send(answer);
  });

  app.delete<{ Params: { id: string } }>('/v1/children/:id', opts.technician, async (req, reply) => {
    const actor = { role: req.role ?? ('technician' as const), via: opts.via(req.headers['x-edgevisor-via']) };
    const id = req.params.id;
    if (isInner(id)) await tree.innerAction(id, 'delete', actor);
    else tree.removeChild(id, actor);
    return reply.code(202).send(deleting(id));
  });
}
