/** The tree spec: load and validate tree files (or trees built in code) into a frozen `TreeSpec`. */
export { loadTreeFile, parseTree, parseTreeObject, TREE_DEFAULTS } from './load.ts';
export { parseDuration, formatDuration } from './duration.ts';
export { loadYamlConfig, parseYamlConfig, expected, expectedType } from './yaml-config.ts';
export type * from './types.ts';
export { defineWorker, resolveLifecycle, assertDeclaredState } from './worker-lifecycle.ts';
export type { Deadlines, DurationInput, StateDeadlines, TypedWorker, WorkerContext, WorkerDefinition } from './worker-lifecycle.ts';
