/**
 * Backends by name: the built-in kinds (process, inproc, thread; docker added by backends/docker)
 * and the ones a user registers. A tree child picks its factory with `backend.kind`, a `custom:`
 * child with `custom.kind`:
 *
 * ```ts
 * const backends = registerBackend(defaultBackends(), 'ssh', (worker, ctx) => createSshUnit(worker.backend.options));
 * const tree = createTree(parseTreeObject({ name: 'box', children: [{ id: 'far', custom: { kind: 'ssh', options: { host: 'cam1' } } }] }), { backends });
 * ```
 * A registry is a plain object passed to createTree (no module-wide state), so two trees in one
 * process can have different backends.
 */
import { codes, EdgevisorError } from '../errors.ts';
import { ID_RE } from '../spec/schema.ts';
import type { BackendSpec } from '../spec/types.ts';
import type { BackendRegistry, UnitFactory } from './types.ts';

/** Names a custom backend cannot take: the built-in kinds (and `custom`, the spec key). */
export const BUILTIN_BACKENDS = ['process', 'inproc', 'thread', 'docker', 'custom'] as const;

/** The registry key of a child's backend: its kind, or the registered name of a custom one. */
export function backendKey(spec: BackendSpec): string {
  return spec.kind === 'custom' ? spec.name : spec.kind;
}

/**
 * Adds `factory` under `name` to `registry` (mutated and returned). Throws BAD_REQUEST for a name
 * that is not an id, is a built-in kind, or is already registered: a second registration would
 * silently change what existing children run.
 */
export function registerBackend(registry: BackendRegistry, name: string, factory: UnitFactory): BackendRegistry {
  if (!ID_RE.test(name)) {
    throw new EdgevisorError(codes.BAD_REQUEST, `registerBackend: expected a name matching [a-z0-9][a-z0-9_-]*, got ${JSON.stringify(name)}`);
  }
  if ((BUILTIN_BACKENDS as readonly string[]).includes(name)) {
    throw new EdgevisorError(codes.BAD_REQUEST, `registerBackend: "${name}" is a built-in backend; choose another name (built-in: ${BUILTIN_BACKENDS.join(', ')})`);
  }
  if (registry[name]) throw new EdgevisorError(codes.BAD_REQUEST, `registerBackend: a backend named "${name}" is already registered`);
  if (typeof factory !== 'function') throw new EdgevisorError(codes.BAD_REQUEST, `registerBackend: the factory for "${name}" must be a function (worker, ctx) => Unit`);
  registry[name] = factory;
  return registry;
}
