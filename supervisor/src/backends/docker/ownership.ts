import { EdgevisorError, codes } from '../../errors.ts';

/** The compose labels that say which project and service a container belongs to. */
export const LABEL_PROJECT = 'com.docker.compose.project';
export const LABEL_SERVICE = 'com.docker.compose.service';
/** Set to "True" on `docker compose run` containers: never supervised. */
export const LABEL_ONEOFF = 'com.docker.compose.oneoff';
export const LABEL_NUMBER = 'com.docker.compose.container-number';

/** Anything with an id/name and labels: a ContainerState, a ContainerSummary or an event. */
export interface LabelledContainer {
  id: string;
  name?: string;
  labels: Readonly<Record<string, string>>;
}

/** Whether `c` is a regular (not one-off) container of `project`, of `service` when given. */
export function isOwned(c: LabelledContainer, project: string, service?: string): boolean {
  if (c.labels[LABEL_PROJECT] !== project) return false;
  if (c.labels[LABEL_ONEOFF] === 'True') return false;
  return service === undefined || c.labels[LABEL_SERVICE] === service;
}

/**
 * Every mutating Docker call goes through this first: a container outside our compose project
 * (or a one-off, or another service's) is never started, stopped, killed or exec'd into.
 */
export function assertOwned(c: LabelledContainer, project: string, service?: string): void {
  if (isOwned(c, project, service)) return;
  const who = c.name ? `${c.name} (${c.id.slice(0, 12)})` : c.id.slice(0, 12);
  const has = `project=${c.labels[LABEL_PROJECT] ?? '(none)'} service=${c.labels[LABEL_SERVICE] ?? '(none)'}${c.labels[LABEL_ONEOFF] === 'True' ? ' oneoff' : ''}`;
  throw new EdgevisorError(
    codes.FOREIGN_CONTAINER,
    `container ${who} does not belong to compose project ${project}${service ? ` service ${service}` : ''} (it has ${has}): edgevisor never touches it`,
  );
}

/**
 * Picks the container to supervise among those compose made for one service: the lowest
 * container-number (a scaled service has several; we supervise the first).
 */
export function pickServiceContainer<T extends LabelledContainer>(rows: readonly T[], project: string, service: string): T | undefined {
  const mine = rows.filter((r) => isOwned(r, project, service));
  mine.sort((a, b) => Number(a.labels[LABEL_NUMBER] ?? 1) - Number(b.labels[LABEL_NUMBER] ?? 1));
  return mine[0];
}
