/**
 * The real images for tests: `edgevisor-base:local` (offline debootstrap base) and
 * `edgevisor-app:local` (every app and the supervisor), built by the docker/ scripts when missing
 * or built from other sources than the checkout's (a source-hash label decides; see
 * docker/build-images.sh). The first build takes minutes (debootstrap); later ones ~40 s when a
 * source changed, ~1 s when none did.
 */
import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
// EDGEVISOR_TEST_IMAGE_TAG: a tag of one's own, so checkouts with other sources on one engine
// (parallel worktrees) do not rebuild each other's image.
const TAG = process.env.EDGEVISOR_TEST_IMAGE_TAG || 'local';
export const APP_IMAGE = `edgevisor-app:${TAG}`;
export const BASE_IMAGE = 'edgevisor-base:local';

let built: Promise<string> | undefined;

/**
 * Builds base + app image when missing or stale and resolves to the app image name. Memoised per
 * process; a file lock keeps parallel test files (or engineers) from building at the same time.
 * `timeoutMs` covers a first debootstrap on a slow mirror.
 */
export function ensureImages(opts: { timeoutMs?: number } = {}): Promise<string> {
  return (built ??= new Promise<string>((res, rej) => {
    execFile(
      'flock',
      ['/tmp/edgevisor-images.lock', resolve(root, 'docker/build-images.sh'), '--if-stale', '--tag', TAG],
      { cwd: root, timeout: opts.timeoutMs ?? 15 * 60_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err) rej(new Error(`docker/build-images.sh failed: ${(stderr || stdout).trim().split('\n').slice(-8).join('\n') || err.message}`));
        else res(APP_IMAGE);
      },
    );
  }));
}
