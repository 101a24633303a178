// A provisioning API for integration managers and admin tools, shaped like mautrix's
// (`/_matrix/provision/v1/...`): each call carries `Authorization: Bearer <shared secret>` (acting for
// the user named in `?user_id=`) or `Authorization: Bearer openid:<token>` (a Matrix OpenID token of the
// user, checked with the homeserver). Errors are JSON `{ errcode, error }`. The host does the auth, the
// errors and the room power check; a bridge only says what each route does.
import type { HttpMethod, HttpRequest, HttpResponse } from './http.js';

const BRAND = Symbol.for('patchbay-matrix.ProvisioningError');

/** How a provisioning request proved who it is. */
export type ProvisioningAuth = 'shared-secret' | 'openid';

export interface ProvisioningRequest extends HttpRequest {
  /**
   * The Matrix user the request acts for: the OpenID token's owner, or the `user_id` query parameter of
   * a shared-secret call. Null only on a route registered with `{ user: false }` called without one.
   */
  readonly userId: string | null;
  readonly auth: ProvisioningAuth;
}

export type ProvisioningHandler = (request: ProvisioningRequest) => Promise<HttpResponse>;

export interface ProvisioningRouteOptions {
  /** False: the route does not act for a user (a shared-secret call needs no `user_id`). Default true. */
  user?: boolean;
}

export interface ProvisioningOptions {
  /** One of the descriptor's `httpPrefixes`, e.g. `/_matrix/provision/v1`. */
  prefix: string;
  /** The operator's secret (at least 16 characters), or null to accept only OpenID tokens. */
  sharedSecret: string | null;
}

/** The routes of one provisioning API, registered in start() like ctx.http's. */
export interface ProvisioningApi {
  route(method: HttpMethod, path: string, handler: ProvisioningHandler, options?: ProvisioningRouteOptions): void;
  /**
   * Throws a 403 ProvisioningError unless `userId` is joined to the room with the power level to send
   * state events there (what linking a room to a remote place changes). The bot joins the room to look
   * (it must be invited to a private room) and leaves again when the user may not.
   */
  requireBridgePower(roomId: string, userId: string): Promise<void>;
}

export interface Provisioning {
  /** Mounts a provisioning API under `options.prefix`; call in start(). */
  mount(options: ProvisioningOptions): ProvisioningApi;
}

/**
 * Answers a provisioning request with `{ errcode, error }` and this status (`404 M_NOT_FOUND`, `409
 * M_ROOM_IN_USE`, ...). Recognised by a brand, as the plugin errors are.
 */
export class ProvisioningError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
  ) {
    super(message);
    this.name = 'ProvisioningError';
    Object.defineProperty(this, BRAND, { value: true });
  }

  static is(err: unknown): err is ProvisioningError {
    return typeof err === 'object' && err !== null && (err as Record<PropertyKey, unknown>)[BRAND] === true;
  }
}
