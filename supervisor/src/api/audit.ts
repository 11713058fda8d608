/**
 * `POST /v1/audit` (technician token): an app that acts for a person records what it did in the
 * supervisor's event log, so every action of the box is in one log with its role. The dashboard
 * sends its pins, unpins and sign-ins here (restart/stop/start are recorded by the action routes).
 *
 * Body, strictly checked (a 400 `EDGEVISOR_ERR_BAD_REQUEST` names the field): `action` from a fixed
 * list, `role` of the person (the caller's token says only that the app may record), `via` from
 * `viaValues`, `subject` a short plain text ("safety event 42"): no free text beyond that, so the
 * log holds no path, token or markup. Recorded as a `manual` event on the root with data
 * `{action, role, via, subject}`; not a restart, so no restart counter or words are touched.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Role, Tree } from '../runtime/types.ts';
import { badRequest } from './errors.ts';

/** What an app may record. Whitelisted: anything else is a 400. */
export const auditActions = ['pin', 'unpin', 'sign_in', 'sign_out', 'sign_in_refused'] as const;
/** One of `auditActions`. */
export type AuditAction = (typeof auditActions)[number];

/** Words for the event's reason, e.g. "pin by a technician via dashboard: safety event 42". */
const verbs: Record<AuditAction, string> = { pin: 'pinned', unpin: 'unpinned', sign_in: 'signed in', sign_out: 'signed out', sign_in_refused: 'sign-in refused' };

const bodySchema = (via: readonly [string, ...string[]]) => z.strictObject({
  action: z.enum(auditActions),
  // `anonymous`: a refused sign-in has no role yet.
  role: z.enum(['viewer', 'technician', 'anonymous']),
  via: z.enum(via),
  subject: z.string().regex(/^[\w .:#@-]{1,80}$/, 'expected 1..80 letters, digits, spaces and . : # @ - _').optional(),
});

/** Registers the route; `technician` is the route option that makes the auth hook require that role. */
export function registerAuditRoute(app: FastifyInstance, tree: Tree, via: readonly [string, ...string[]], technician: { config: { role: Role } }): void {
  const schema = bodySchema(via);
  app.post<{ Body: unknown }>('/v1/audit', technician, async (req, reply) => {
    if (req.body === undefined || req.body === null || typeof req.body !== 'object') throw badRequest(`body: expected JSON {"action": ${auditActions.join('|')}, "role": viewer|technician|anonymous, "via": ${via.join('|')}, "subject"?: "..."}`);
    const r = schema.safeParse(req.body);
    if (!r.success) {
      const i = r.error.issues[0]!;
      const field = i.path.join('.') || 'body';
      throw badRequest(`${field}: ${i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.join(', ')}; accepted: action, role, via, subject` : i.message}`);
    }
    const { action, role, via: from, subject } = r.data;
    const ev = tree.record({
      type: 'manual', child: tree.snapshot().name,
      reason: `${verbs[action]} (${role} via ${from})${subject ? `: ${subject}` : ''}`,
      data: { action, role, via: from, ...(subject ? { subject } : {}) },
    });
    return reply.code(201).send({ recorded: true, seq: ev.seq });
  });
}
