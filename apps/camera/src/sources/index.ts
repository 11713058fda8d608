import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { processLogger } from '../../../common/src/index.ts';
import type { SourceConfig } from '../config.ts';
import { mjpegSource } from './mjpeg.ts';
import { onvifSource } from './onvif.ts';
import { rtspSource } from './rtsp.ts';
import { snapshotSource } from './snapshot.ts';
import { syntheticSource } from './synthetic.ts';
import type { FrameSource } from './types.ts';

export type { FrameSource, SourceContext } from './types.ts';
export { cameraErrors } from './types.ts';

/** The frame source for a camera's configured source kind. */
export function sourceFor(cfg: SourceConfig): FrameSource {
  switch (cfg.kind) {
    case 'rtsp': return rtspSource(cfg.url);
    case 'onvif': return onvifSource(cfg);
    case 'mjpeg': return mjpegSource(cfg);
    case 'snapshot': return snapshotSource(cfg);
    case 'synthetic': return cfg.clip ? clipOrFigure(cfg.clip, cfg.periodS) : syntheticSource(cfg.periodS);
  }
}

/** Clips already reported missing (one line per file, not one per camera restart). */
const missingReported = new Set<string>();

/**
 * A synthetic camera playing a video file in a loop (decoded by ffmpeg like an RTSP stream, at the
 * file's own pace), or, when the file is not there, the drawn figure. The figure is motion, not a
 * person: a person detector sees nothing in it, so the missing file is said once, with the fix.
 */
function clipOrFigure(clip: string, periodS: number): FrameSource {
  if (existsSync(clip)) return rtspSource(clip);
  if (!missingReported.has(clip)) {
    missingReported.add(clip);
    processLogger().warn(`synthetic clip ${basename(clip)} not found: drawing the synthetic figure instead (a person detector will not see it; on Debian: apt-get install opencv-doc)`);
  }
  return syntheticSource(periodS);
}
