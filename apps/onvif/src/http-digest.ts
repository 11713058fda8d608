// HTTP digest for the cameras that refuse WS-Security: one camera's session around the shared
// digest arithmetic (apps/common/src/http-digest.ts).
import { randomBytes } from 'node:crypto';
import { digestAuthorization, type DigestChallenge } from '../../common/src/http-digest.ts';

export { parseDigestChallenge, type DigestChallenge } from '../../common/src/http-digest.ts';

/**
 * One camera's digest state: the last challenge, reused for the next requests (nc counts up), so
 * a camera known to want digest costs one round trip per call instead of the 401 + retry the
 * `onvif` package makes every time.
 */
export class DigestSession {
  private nc = 0;
  constructor(readonly challenge: DigestChallenge, private readonly username: string, private readonly password: string) {}

  authorization(method: string, uri: string): string {
    return digestAuthorization(this.challenge, { method, uri, username: this.username, password: this.password, nc: ++this.nc, cnonce: randomBytes(8).toString('hex') });
  }
}
