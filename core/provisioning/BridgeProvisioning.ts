// ctx.provisioning: a bridge's provisioning API on its ctx.http routes (mounted under a claimed prefix,
// outside the bridge's own auth hook), with the auth and the error answers every bridge shares.
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import {
  ProvisioningError,
  type HttpMethod,
  type HttpRequest,
  type HttpResponse,
  type HttpRoutes,
  type Intent,
  type Provisioning,
  type ProvisioningApi,
  type ProvisioningAuth,
  type ProvisioningHandler,
  type ProvisioningOptions,
  type ProvisioningRouteOptions,
} from '../plugin-api/index.js';
import type { OpenIdVerifier } from './OpenIdVerifier.js';
import { requireBridgePower } from './RoomBridgePower.js';

/** The shortest shared secret accepted (the config schema says so too). */
export const MIN_SHARED_SECRET_LENGTH = 16;
const USER_ID = /^@[^:\s]+:\S+$/;

export interface BridgeProvisioningDeps {
  http: HttpRoutes;
  bot: Intent;
  openId: OpenIdVerifier;
  logger: Logger;
}

const answer = (err: ProvisioningError): HttpResponse => ({ status: err.status, json: { errcode: err.errcode, error: err.message } });

function sameSecret(given: string, secret: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

export class BridgeProvisioning implements Provisioning {
  constructor(private readonly deps: BridgeProvisioningDeps) {}

  mount(options: ProvisioningOptions): ProvisioningApi {
    const { sharedSecret, prefix } = options;
    if (sharedSecret !== null && (typeof sharedSecret !== 'string' || sharedSecret.length < MIN_SHARED_SECRET_LENGTH)) {
      throw new TypeError(`ctx.provisioning.mount: the shared secret must be a string of at least ${MIN_SHARED_SECRET_LENGTH} characters, or null`);
    }
    const { http, bot, openId } = this.deps;
    const logger = this.deps.logger.child({ provisioning: prefix });

    const authenticate = async (req: HttpRequest, needsUser: boolean): Promise<{ userId: string | null; auth: ProvisioningAuth }> => {
      const header = req.headers.authorization ?? '';
      const token = /^Bearer\s+(\S+)$/i.exec(header.trim())?.[1];
      if (token === undefined) throw new ProvisioningError(401, 'M_MISSING_TOKEN', 'Give Authorization: Bearer <shared secret> or Bearer openid:<OpenID token>');
      const named = req.query.user_id;
      if (named !== undefined && !USER_ID.test(named)) throw new ProvisioningError(400, 'M_INVALID_PARAM', `user_id ${JSON.stringify(named)} is not a Matrix user id like @alice:example.org`);
      if (token.startsWith('openid:')) {
        const userId = await openId.userOf(token.slice('openid:'.length));
        if (named !== undefined && named !== userId) throw new ProvisioningError(403, 'M_FORBIDDEN', `The OpenID token belongs to ${userId}, not ${named}`);
        return { userId, auth: 'openid' };
      }
      if (sharedSecret === null || !sameSecret(token, sharedSecret)) throw new ProvisioningError(401, 'M_UNKNOWN_TOKEN', 'The shared secret is wrong');
      if (needsUser && named === undefined) throw new ProvisioningError(400, 'M_MISSING_PARAM', 'Give the user this call acts for as ?user_id=@alice:example.org');
      return { userId: named ?? null, auth: 'shared-secret' };
    };

    return {
      route(method: HttpMethod, path: string, handler: ProvisioningHandler, routeOptions: ProvisioningRouteOptions = {}): void {
        const needsUser = routeOptions.user ?? true;
        http.route(
          method,
          path,
          async (req) => {
            try {
              const who = await authenticate(req, needsUser);
              return await handler({ ...req, ...who });
            } catch (err) {
              if (!ProvisioningError.is(err)) throw err;
              if (err.status === 401) logger.info({ path: req.path, remote: req.remoteAddress, errcode: err.errcode }, 'provisioning request refused');
              return answer(err);
            }
          },
          { prefix, auth: false },
        );
      },
      requireBridgePower: (roomId, userId) => requireBridgePower(bot, roomId, userId),
    };
  }
}
