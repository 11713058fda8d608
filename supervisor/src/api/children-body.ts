/**
 * The dynamic-children contract's request checks and answers, shared by the supervisor's API
 * (api/children.ts) and an app's inner-tree routes (inner/routes.ts), so a child added through
 * the supervisor and one added on the app's own port are refused with the same words. Pure.
 * Also the `x-edgevisor-via` check every manual action shares.
 */
import type { ChildSnapshot } from '../runtime/types.ts';
import { badRequest } from './errors.ts';

/** Where a manual action came from (`x-edgevisor-via`), recorded with the role. Whitelisted: the log holds no free text. */
export const viaValues = ['dashboard', 'cli', 'api'] as const;
export type Via = (typeof viaValues)[number];

/** The `x-edgevisor-via` header (absent: `api`), or a 400 naming it and what is accepted. */
export function parseVia(raw: string | string[] | undefined): Via {
  if (raw === undefined) return 'api';
  const v = Array.isArray(raw) ? raw[0] : raw;
  const found = viaValues.find((x) => x === v?.trim().toLowerCase());
  if (!found) throw badRequest(`x-edgevisor-via: expected one of ${viaValues.join(', ')}, got ${JSON.stringify(String(v).slice(0, 40))}`);
  return found;
}

/** 201 answer of `POST /v1/children`. */
export interface ChildAdded {
  added: string;
  parent: string;
  child: ChildSnapshot;
}

/** 202 answer of `DELETE /v1/children/:id`. */
export interface ChildDeleting {
  accepted: true;
  action: 'delete';
  child: string;
}

const BODY = '{"parent": "<supervisor id>", "child": {...}}';

/**
 * The body of `POST /v1/children`: `parent` a supervisor id, `child` whatever the parent takes
 * (checked later by the tree's own schema), nothing else. Throws a 400 naming the field.
 */
export function parseAddChildBody(body: unknown): { parent: string; child: unknown } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest(`body: expected JSON ${BODY}`);
  const { parent, child, ...rest } = body as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length) throw badRequest(`${extra[0]}: unknown field; accepted: parent, child`);
  if (typeof parent !== 'string' || parent.length === 0 || parent.length > 200) throw badRequest(`parent: expected the id of a supervisor, got ${parent === undefined ? 'nothing' : JSON.stringify(parent).slice(0, 60)}`);
  return { parent, child };
}

export const deleting = (child: string): ChildDeleting => ({ accepted: true, action: 'delete', child });
