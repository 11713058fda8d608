/**
 * Where the inference app opens a camera's frame ring: `<FRAMES_DIR>/<file>`, the directory from
 * its own configuration and only the file name from the camera controller's GET /cameras (the
 * controller never says where it writes: no server path in an answer). The name is checked
 * before it is joined: a controller, buggy or not ours, must not steer us to another file.
 */
import { join } from 'node:path';
import { AppError } from '../../common/src/index.ts';

/** A ring file name as the camera app makes them: `<camera id>.ring` (ids: letters, digits, _ or -, max 63). */
export const RING_FILE_NAME = /^[A-Za-z0-9_-]{1,63}\.ring$/;

/** Stable code of a refused ring file name. */
export const RING_NAME_REFUSED = 'INFERENCE_ERR_RING_NAME';

/**
 * `<framesDir>/<file>`, or AppError(INFERENCE_ERR_RING_NAME) when `file` is not a plain ring file
 * name (a slash, a backslash, `..`, or anything but `<id>.ring`).
 */
export function ringPathIn(framesDir: string, file: string): string {
  if (!RING_FILE_NAME.test(file)) {
    const why = /[/\\]/.test(file) ? 'it has a slash' : file.includes('..') ? 'it has ".."' : 'it is not <camera id>.ring';
    throw new AppError(RING_NAME_REFUSED, `ring file name ${JSON.stringify(file.slice(0, 80))} refused (${why}): expected a plain file name like "cam1.ring" (letters, digits, _ or -, then .ring)`);
  }
  return join(framesDir, file);
}
