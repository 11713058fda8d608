import { accessSync, constants } from 'node:fs';

/**
 * A /healthz check for an app's data volume: throws (failing /healthz) when `dir` is missing or
 * read-only, e.g. a volume that did not mount. A lost volume must be noticed, not written around.
 */
export function dataDirCheck(dir: string): () => void {
  return () => {
    try {
      accessSync(dir, constants.W_OK);
    } catch {
      throw new Error(`DATA_DIR ${dir} is not writable`);
    }
  };
}
