// Requests made with an appservice's as_token (spec: AS API "Identity assertion"): without `user_id`
// they act as the appservice's sender; with it, as that user, who must be in the appservice's users
// namespace and already registered. A `device_id` must be one of that user's devices.
import type { Requester, UserDirectory } from '../contracts.js';
import { MatrixError } from '../MatrixError.js';
import { coversUser } from './Appservice.js';
import type { AppserviceRegistry } from './AppserviceRegistry.js';

export class AppserviceAuthenticator {
  constructor(
    private readonly registry: AppserviceRegistry,
    private readonly users: UserDirectory,
  ) {}

  authenticate(token: string, assertedUserId: string | undefined, assertedDeviceId: string | undefined): Requester | null {
    const appservice = this.registry.byToken(token);
    if (appservice === null) return null;
    const userId = assertedUserId ?? appservice.senderUserId;
    if (userId !== appservice.senderUserId) {
      if (!coversUser(appservice, userId)) {
        throw new MatrixError(403, 'M_FORBIDDEN', `Application service cannot masquerade as ${userId}: not in its users namespace`);
      }
      // The sender exists implicitly; namespace users only once registered.
      if (!this.users.exists(userId)) {
        throw new MatrixError(403, 'M_FORBIDDEN', `Application service has not registered ${userId}`);
      }
    }
    if (assertedDeviceId !== undefined && !this.users.hasDevice(userId, assertedDeviceId)) {
      throw new MatrixError(400, 'M_UNKNOWN_DEVICE', `Device ${assertedDeviceId} does not belong to ${userId}`);
    }
    // The spec exempts the sender always, and the users it acts as when `rate_limited` is false.
    const rateLimited = userId !== appservice.senderUserId && appservice.rateLimited;
    return { userId, deviceId: assertedDeviceId ?? null, appserviceId: appservice.id, accessToken: token, rateLimited };
  }
}
