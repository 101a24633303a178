// Answering key queries and claims about this server's users, for its own clients (POST /keys/query,
// /keys/claim) and for other servers (/_matrix/federation/v1/user/keys/query|claim, user/devices).
// Another server sees what its users may see: each key with its owner's signatures only, no
// user-signing key and no device display names.
import type { AccountStore } from '../accounts/AccountStore.js';
import type { JsonObject } from '../http/RequestReader.js';
import type { E2eeStores } from './E2eeStores.js';

export interface QueriedKeys {
  device_keys: JsonObject;
  master_keys: JsonObject;
  self_signing_keys: JsonObject;
  user_signing_keys: JsonObject;
}

export const emptyQueriedKeys = (): QueriedKeys => ({ device_keys: {}, master_keys: {}, self_signing_keys: {}, user_signing_keys: {} });

/** A local client (its user ID) or another server (null). */
export type KeyViewer = string | null;

export class LocalKeyQueries {
  constructor(
    private readonly e2ee: E2eeStores,
    private readonly accounts: AccountStore,
  ) {}

  /** Adds the keys of `userId`'s devices (all when `devices` is empty) to `out`. */
  query(userId: string, devices: readonly string[], viewer: KeyViewer, out: QueriedKeys): void {
    const sees = viewer ?? userId;
    const only = new Set(devices);
    const byDevice: JsonObject = {};
    for (const [deviceId, key] of this.e2ee.deviceKeys.forUser(userId)) {
      if (only.size > 0 && !only.has(deviceId)) continue;
      byDevice[deviceId] = this.deviceKey(userId, deviceId, key, sees, viewer !== null);
    }
    out.device_keys[userId] = byDevice;
    for (const [usage, section] of [['master', out.master_keys], ['self_signing', out.self_signing_keys]] as const) {
      const k = this.e2ee.crossSigning.get(userId, usage);
      if (k) section[userId] = this.e2ee.crossSigning.withSignatures(userId, k.publicKey, k.key, sees);
    }
    // A user-signing key is only ever shown to its owner.
    const userSigning = viewer === userId ? this.e2ee.crossSigning.get(userId, 'user_signing') : null;
    if (userSigning) out.user_signing_keys[userId] = userSigning.key;
  }

  /** GET /_matrix/federation/v1/user/devices/{userId}: every device, with keys where it has some. */
  devices(userId: string, streamId: number): JsonObject {
    const keys = this.e2ee.deviceKeys.forUser(userId);
    const devices = this.accounts.devices(userId).map((d) => {
      const key = keys.get(d.device_id);
      return { device_id: d.device_id, ...(key && { keys: this.e2ee.crossSigning.withSignatures(userId, d.device_id, key, userId) }) };
    });
    const out: JsonObject = { user_id: userId, stream_id: streamId, devices };
    const master = this.e2ee.crossSigning.get(userId, 'master');
    if (master) out['master_key'] = this.e2ee.crossSigning.withSignatures(userId, master.publicKey, master.key, userId);
    const selfSigning = this.e2ee.crossSigning.get(userId, 'self_signing');
    if (selfSigning) out['self_signing_key'] = this.e2ee.crossSigning.withSignatures(userId, selfSigning.publicKey, selfSigning.key, userId);
    return out;
  }

  /** Claims one key per device for `userId` into `out` (devices without one are left out). */
  claim(userId: string, byDevice: Record<string, string>, out: Record<string, JsonObject>): void {
    for (const [deviceId, algorithm] of Object.entries(byDevice)) {
      const claimed = this.e2ee.oneTimeKeys.claim(userId, deviceId, algorithm);
      if (claimed) (out[userId] ??= {})[deviceId] = claimed;
    }
  }

  private deviceKey(userId: string, deviceId: string, key: JsonObject, sees: string, local: boolean): JsonObject {
    const signed = this.e2ee.crossSigning.withSignatures(userId, deviceId, key, sees);
    const name = local ? this.accounts.device(userId, deviceId)?.display_name : null;
    return name ? { ...signed, unsigned: { device_display_name: name } } : signed;
  }
}
