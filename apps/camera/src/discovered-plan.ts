/**
 * The pure part of the discovered-camera poller (discovered.ts): what one answer of the onvif
 * service's GET /cameras means for the controller's `discovered` workers. No I/O, no clock:
 * `planPoll(listed, adopted, config, taken)` says which cameras to adopt, which workers to remove,
 * and each adopted camera's count of polls in a row it was missing from the list.
 *
 * Listed but offline (status `unreachable`, `auth_failed`, ...) is still listed: its worker stays
 * and reconnects. Missing from a list the service did give counts one poll; a camera missing
 * `forgetAfterPolls` polls in a row is removed. A poll that got no list (service down, an HTTP
 * error, a body that is not a camera list) is never planned: parseListing throws and the poller
 * skips the poll, so an unreachable service removes nothing and resets no count. A list the
 * service marks `partial` (it has just started and its first WS-Discovery run has not finished,
 * so the cameras it found by discovery before are not back yet) adopts what it lists but counts
 * no camera missing.
 */
import type { DiscoveredConfig, DiscoveredMatch } from './config.ts';

/** A camera as the onvif service lists it (apps/onvif/src/cameras.ts CameraView: the fields used here). */
export interface ListedCamera {
  id: string;
  /** pending | ok | auth_failed | unreachable | error: only shown, never used to remove. */
  status: string;
  /** From GetDeviceInformation; null until the camera first answered. */
  manufacturer: string | null;
}

/** The body of GET /cameras -> its cameras; throws (the poll failed) when it is not a camera list. */
export function parseListing(body: unknown): ListedCamera[] {
  const list = (body as { cameras?: unknown } | null)?.cameras;
  if (!Array.isArray(list)) throw new Error('GET /cameras: expected { cameras: [...] }');
  return list.flatMap((c): ListedCamera[] => {
    const v = c as { id?: unknown; status?: unknown; device?: { manufacturer?: unknown } | null } | null;
    if (typeof v?.id !== 'string' || !v.id) return [];
    const m = v.device?.manufacturer;
    return [{ id: v.id, status: typeof v.status === 'string' ? v.status : 'unknown', manufacturer: typeof m === 'string' && m ? m : null }];
  });
}

/** True when the service says its list is not whole yet (apps/onvif GET /cameras `partial`); a service without the field gives whole lists. */
export function listingIsPartial(body: unknown): boolean {
  return (body as { partial?: unknown } | null)?.partial === true;
}

/** Whether one listed camera is adopted: yes, no (with the reason), or not yet (its manufacturer is needed and unknown). */
export type Verdict = { adopt: true } | { adopt: false; why: string } | { adopt: 'wait'; why: string };

const byId = (m: DiscoveredMatch, cam: ListedCamera) => !!m.ids?.includes(cam.id);
const byMaker = (m: DiscoveredMatch, cam: ListedCamera) => cam.manufacturer !== null && !!m.manufacturers?.some((x) => x.toLowerCase() === cam.manufacturer!.toLowerCase());

/** Deny wins over allow; a manufacturer rule waits for the camera's manufacturer (rather than guess either way). */
export function verdict(cam: ListedCamera, cfg: Pick<DiscoveredConfig, 'allow' | 'deny'>): Verdict {
  const { allow, deny } = cfg;
  if (deny && byId(deny, cam)) return { adopt: false, why: 'its id is in discovered.deny' };
  if (deny && byMaker(deny, cam)) return { adopt: false, why: `its manufacturer (${cam.manufacturer}) is in discovered.deny` };
  if ((allow?.manufacturers || deny?.manufacturers) && cam.manufacturer === null && !(allow && byId(allow, cam) && !deny?.manufacturers)) {
    return { adopt: 'wait', why: 'its manufacturer is not known yet (the camera has not answered the onvif service)' };
  }
  if (allow && !byId(allow, cam) && !byMaker(allow, cam)) return { adopt: false, why: `neither its id nor its manufacturer${cam.manufacturer ? ` (${cam.manufacturer})` : ''} is in discovered.allow` };
  return { adopt: true };
}

export interface PollPlan {
  /** Listed, allowed, not taken, no worker yet: add a worker. */
  adopt: string[];
  /** Adopted and missing `forgetAfterPolls` polls in a row: remove the worker. */
  remove: string[];
  /** Listed, no worker, and refused by allow / deny (the poller says so once per camera). */
  refused: { id: string; why: string }[];
  /** Listed, no worker, waiting for its manufacturer. */
  waiting: string[];
  /** Each adopted camera that keeps its worker, with its polls in a row missing (0: listed now). */
  missing: Map<string, number>;
}

/**
 * `adopted`: the cameras with a discovered worker and their missing counts before this poll.
 * `taken(id)`: the id is a configured camera's, a configured camera streams that device, or the
 * tree has that child id already: never adopted. `partial`: the list is not whole (listingIsPartial):
 * a camera missing from it keeps its count.
 */
export function planPoll(listed: readonly ListedCamera[], adopted: ReadonlyMap<string, number>, cfg: Pick<DiscoveredConfig, 'allow' | 'deny' | 'forgetAfterPolls'>, taken: (id: string) => boolean, partial = false): PollPlan {
  const plan: PollPlan = { adopt: [], remove: [], refused: [], waiting: [], missing: new Map() };
  const here = new Set(listed.map((c) => c.id));
  for (const [id, before] of adopted) {
    const misses = here.has(id) ? 0 : partial ? before : before + 1;
    if (!partial && misses >= cfg.forgetAfterPolls) plan.remove.push(id);
    else plan.missing.set(id, misses);
  }
  for (const cam of listed) {
    if (adopted.has(cam.id) || taken(cam.id) || plan.adopt.includes(cam.id)) continue;
    const v = verdict(cam, cfg);
    if (v.adopt === true) plan.adopt.push(cam.id);
    else if (v.adopt === 'wait') plan.waiting.push(cam.id);
    else plan.refused.push({ id: cam.id, why: v.why });
  }
  return plan;
}
