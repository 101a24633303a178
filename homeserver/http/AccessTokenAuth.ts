// Access-token authentication. The token comes from `Authorization: Bearer` or the legacy
// `?access_token=` (never both). A user session's token is looked up locally; any other token is offered
// to the appservice side, which accepts an as_token with identity assertion (?user_id, ?device_id).
import type { NextFunction, Request, Response } from 'express';
import type { AppserviceGateway, Requester } from '../contracts.js';
import { MatrixError } from '../MatrixError.js';
import type { AccountStore } from '../accounts/AccountStore.js';
import type { DeviceActivity } from '../accounts/DeviceActivity.js';
import { clientIpOf } from '../limits/RateLimits.js';
import { query } from './RequestReader.js';

export function accessTokenOf(req: Request): string | null {
  const header = req.headers.authorization;
  const fromQuery = query(req, 'access_token');
  if (header !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw new MatrixError(401, 'M_MISSING_TOKEN', 'Invalid Authorization header');
    if (fromQuery !== undefined) {
      throw new MatrixError(401, 'M_MISSING_TOKEN', 'Mixing Authorization headers and access_token query parameters');
    }
    return m[1]!;
  }
  return fromQuery ?? null;
}

export class AccessTokenAuth {
  constructor(
    private readonly accounts: AccountStore,
    private readonly gateway: () => AppserviceGateway,
    private readonly activity: DeviceActivity,
  ) {}

  /** The requester for a token; throws 401 M_UNKNOWN_TOKEN for tokens nobody issued. */
  resolve(token: string, req: Request): Requester {
    const session = this.accounts.sessionForToken(token);
    if (session) {
      this.activity.seen(session.userId, session.deviceId, clientIpOf(req));
      return { userId: session.userId, deviceId: session.deviceId, appserviceId: null, accessToken: token, rateLimited: true };
    }
    const deviceId = query(req, 'device_id') ?? query(req, 'org.matrix.msc3202.device_id');
    const asRequester = this.gateway().authenticate(token, query(req, 'user_id'), deviceId);
    if (!asRequester) throw new MatrixError(401, 'M_UNKNOWN_TOKEN', 'Unknown access token', { soft_logout: false });
    // An appservice's sender user exists without registering: give it an account on first use.
    if (!this.accounts.exists(asRequester.userId)) this.accounts.createUser(asRequester.userId, null, asRequester.appserviceId);
    if (asRequester.deviceId !== null) this.activity.seen(asRequester.userId, asRequester.deviceId, clientIpOf(req));
    return asRequester;
  }

  /** Middleware: 401 without a valid token. */
  readonly required = (req: Request, res: Response, next: NextFunction): void => {
    const token = accessTokenOf(req);
    if (token === null) throw new MatrixError(401, 'M_MISSING_TOKEN', 'Missing access token');
    res.locals['requester'] = this.resolve(token, req);
    next();
  };

  /** Middleware: a token is used when given (and must then be valid), but none is needed. */
  readonly optional = (req: Request, res: Response, next: NextFunction): void => {
    const token = accessTokenOf(req);
    if (token !== null) res.locals['requester'] = this.resolve(token, req);
    next();
  };
}
