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
    case 'synthetic': return syntheticSource(cfg.periodS);
  }
}
