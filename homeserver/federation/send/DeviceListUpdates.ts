// Device-list changes of this server's users, told to every server sharing a joined room with them, so
// those servers' clients fetch the new keys and encrypt for new devices (and stop for deleted ones):
// a device's change as m.device_list_update (stream_id = the change's position on the device-list stream,
// prev_id = the user's previous device change, keys with their owner's signatures), a change of the
// cross-signing keys as m.signing_key_update. Other servers see what user/keys/query shows them: no
// device display names, no user-signing key. Runs inside the transaction that recorded the change, so the
// EDUs are stored with it.
import type { AccountStore } from '../../accounts/AccountStore.js';
import type { DeviceListChange } from '../../e2ee/DeviceListStream.js';
import type { E2eeStores } from '../../e2ee/E2eeStores.js';
import type { JsonObject } from '../../http/RequestReader.js';
import type { Edu, FederationSender } from './FederationSender.js';
import { serverOf } from './RoomDestinations.js';

export class DeviceListUpdates {
  constructor(
    private readonly sender: FederationSender,
    private readonly ownServer: string,
    private readonly e2ee: E2eeStores,
    private readonly accounts: AccountStore,
  ) {}

  /** A change recorded on the device-list stream (one only the observer sees, e.g. a signature of another user's key, stays here). */
  onChange(change: DeviceListChange): void {
    if (change.observer !== null || serverOf(change.userId) !== this.ownServer) return;
    const destinations = this.sender.destinations.sharingRoomWith(change.userId);
    if (destinations.length === 0) return;
    this.sender.enqueueEdus(destinations, change.deviceId === null ? this.signingKeyUpdate(change.userId) : this.deviceListUpdate(change, change.deviceId));
  }

  private deviceListUpdate(change: DeviceListChange, deviceId: string): Edu {
    const { userId } = change;
    const prev = this.e2ee.deviceLists.lastDeviceChange(userId, change.pos);
    const content: JsonObject = { user_id: userId, device_id: deviceId, stream_id: change.pos, prev_id: prev === null ? [] : [prev] };
    const key = this.e2ee.deviceKeys.get(userId, deviceId);
    if (!this.accounts.hasDevice(userId, deviceId)) content['deleted'] = true;
    else if (key) content['keys'] = this.e2ee.crossSigning.withSignatures(userId, deviceId, key, userId);
    return { edu_type: 'm.device_list_update', content };
  }

  private signingKeyUpdate(userId: string): Edu {
    const content: JsonObject = { user_id: userId };
    for (const [usage, field] of [['master', 'master_key'], ['self_signing', 'self_signing_key']] as const) {
      const k = this.e2ee.crossSigning.get(userId, usage);
      if (k) content[field] = this.e2ee.crossSigning.withSignatures(userId, k.publicKey, k.key, userId);
    }
    return { edu_type: 'm.signing_key_update', content };
  }
}
