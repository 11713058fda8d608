/**
 * The query string of GET /events, checked once: which of the three modes it asks for and its
 * values, or an error naming the field and what is accepted. Numbers must be plain decimal
 * integers within range (a 400-digit cursor is refused, not read as Infinity or 1e20).
 */
import type { EventQuery } from './store.ts';

export type EventsQuery =
  | { mode: 'latest'; latest: number }
  | { mode: 'since'; since: number; limit: number }
  | { mode: 'filter'; filter: EventQuery & { limit: number } };

const MAX_ID = Number.MAX_SAFE_INTEGER;

/** A decimal integer in [min, max], or undefined. */
function int(v: string, min: number, max: number): number | undefined {
  if (!/^\d{1,16}$/.test(v)) return undefined;
  const n = Number(v);
  return n >= min && n <= max ? n : undefined;
}

/** An event id from a path parameter, or undefined. */
export function eventId(v: string): number | undefined {
  return int(v, 1, MAX_ID);
}

const FILTERS = ['camera', 'zone', 'cls', 'from', 'to', 'pinned', 'before'] as const;
const KNOWN = new Set<string>(['since', 'limit', 'latest', ...FILTERS]);

export function parseEventsQuery(q: Record<string, string | undefined>): EventsQuery | { error: string } {
  for (const k of Object.keys(q)) if (!KNOWN.has(k)) return { error: `${k}: unknown parameter; accepted: ${[...KNOWN].join(', ')}` };
  for (const [k, v] of Object.entries(q)) if (typeof v !== 'string') return { error: `${k}: given more than once` };
  const bad = (field: string, want: string) => ({ error: `${field}: expected ${want}, got ${JSON.stringify(q[field])}` });
  let limit = 500;
  if (q.limit !== undefined) {
    const n = int(q.limit, 1, 5000);
    if (n === undefined) return bad('limit', 'an integer 1..5000');
    limit = n;
  }
  if (q.latest !== undefined) {
    const n = int(q.latest, 1, 5000);
    if (n === undefined) return bad('latest', 'an integer 1..5000');
    return { mode: 'latest', latest: n };
  }
  if (!FILTERS.some((f) => q[f] !== undefined)) {
    const since = q.since === undefined ? 0 : int(q.since, 0, MAX_ID);
    if (since === undefined) return bad('since', 'an event id (integer >= 0)');
    return { mode: 'since', since, limit };
  }
  if (q.since !== undefined) return { error: 'since: cannot be combined with filters (page filtered results with before)' };
  const filter: EventQuery & { limit: number } = { limit: q.limit === undefined ? 100 : limit };
  for (const f of ['camera', 'zone', 'cls'] as const) {
    const v = q[f];
    if (v === undefined) continue;
    if (v.length === 0 || v.length > 128) return bad(f, 'a name of 1..128 characters');
    filter[f] = v;
  }
  for (const f of ['from', 'to'] as const) {
    if (q[f] === undefined) continue;
    const n = int(q[f]!, 0, MAX_ID);
    if (n === undefined) return bad(f, 'a time in unix milliseconds');
    filter[f] = n;
  }
  if (q.before !== undefined) {
    const n = int(q.before, 1, MAX_ID);
    if (n === undefined) return bad('before', 'an event id (integer >= 1)');
    filter.before = n;
  }
  if (q.pinned !== undefined) {
    if (q.pinned !== 'true' && q.pinned !== 'false') return bad('pinned', 'true or false');
    filter.pinned = q.pinned === 'true';
  }
  return { mode: 'filter', filter };
}
