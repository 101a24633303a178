import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { AppserviceApiError } from './AppserviceApiError.js';

/**
 * Checks the hs_token on requests from the homeserver: `Authorization: Bearer <hs_token>` or the legacy
 * `?access_token=`. None: 401 M_MISSING_TOKEN; a wrong one (or header and query disagreeing): 403
 * M_FORBIDDEN. Compared in constant time over SHA-256 digests, so neither content nor length leaks.
 */
export class HomeserverTokenCheck {
  private readonly expected: Buffer;

  constructor(hsToken: string) {
    if (!hsToken) throw new Error('the registration has no hs_token');
    this.expected = HomeserverTokenCheck.digest(hsToken);
  }

  /** Throws AppserviceApiError unless the request carries the right token. */
  check(req: Request): void {
    const header = req.headers.authorization;
    let fromHeader: string | undefined;
    if (typeof header === 'string') {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!match) throw new AppserviceApiError(401, 'M_MISSING_TOKEN', 'Authorization header is not "Bearer <hs_token>"', 'missing_token');
      fromHeader = match[1];
    }
    const query = req.query['access_token'];
    const fromQuery = typeof query === 'string' ? query : Array.isArray(query) && typeof query[0] === 'string' ? query[0] : undefined;
    if (fromHeader === undefined && fromQuery === undefined) {
      throw new AppserviceApiError(401, 'M_MISSING_TOKEN', 'Missing hs_token (Authorization: Bearer)', 'missing_token');
    }
    const ok = [fromHeader, fromQuery].every((t) => t === undefined || this.matches(t));
    if (!ok) throw new AppserviceApiError(403, 'M_FORBIDDEN', 'The hs_token was not accepted', 'bad_token');
  }

  private matches(token: string): boolean {
    return timingSafeEqual(HomeserverTokenCheck.digest(token), this.expected);
  }

  private static digest(token: string): Buffer {
    return createHash('sha256').update(token, 'utf8').digest();
  }
}
