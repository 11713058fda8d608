import { createHash, timingSafeEqual } from 'node:crypto';
import { codes } from '../errors.ts';
import type { Role } from '../runtime/types.ts';
import { ApiError, apiCodes } from './errors.ts';

/** Tokens the API accepts; an absent one grants nothing. */
export interface ApiTokens {
  viewer?: string;
  technician?: string;
}

/** Decides who a request is from. Build once per app; holds only digests of the tokens. */
export interface Authenticator {
  /** Returns the role granted to a request, or throws ApiError (401 / 403). */
  require(authorization: string | undefined, needed: Role): Role;
  readonly mutationsEnabled: boolean;
}

// Hashing first gives equal-length inputs to timingSafeEqual whatever the token lengths, so
// neither the content nor the length of a configured token leaks through response timing.
const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export function createAuthenticator(tokens: ApiTokens): Authenticator {
  const viewer = tokens.viewer ? digest(tokens.viewer) : null;
  const technician = tokens.technician ? digest(tokens.technician) : null;

  const roleOf = (presented: string): Role | null => {
    const d = digest(presented);
    // Both comparisons always run so the time does not say which token matched.
    const isTech = technician !== null && timingSafeEqual(d, technician);
    const isViewer = viewer !== null && timingSafeEqual(d, viewer);
    if (isTech) return 'technician';
    if (isViewer) return 'viewer';
    return null;
  };

  return {
    mutationsEnabled: technician !== null,
    require(authorization, needed) {
      if (needed === 'technician' && technician === null) {
        throw new ApiError(apiCodes.MUTATIONS_DISABLED, 'manual actions are disabled: no technician token is configured (set EDGEVISOR_TECHNICIAN_TOKEN)');
      }
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
      if (!m) {
        throw new ApiError(codes.UNAUTHORIZED, 'missing bearer token: send "Authorization: Bearer <token>"');
      }
      const role = roleOf(m[1]!);
      if (role === null) throw new ApiError(codes.UNAUTHORIZED, 'invalid token');
      if (needed === 'technician' && role !== 'technician') {
        throw new ApiError(codes.FORBIDDEN, 'this action needs a technician token; the token sent is a viewer token');
      }
      return role;
    },
  };
}
