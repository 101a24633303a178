// Removing devices (DELETE /devices, /delete_devices, logout): the device, its access tokens, its keys,
// the signatures on them, its waiting to-device messages and its pushers go in one transaction, and the user's
// device list is marked changed so everyone sharing a room with them stops encrypting to it.
import type { SqlDatabase } from '../storage/SqlDatabase.js';
import type { E2eeStores } from '../e2ee/E2eeStores.js';
import type { ToDeviceInbox } from '../ephemeral/ToDeviceInbox.js';
import type { AccountStore } from './AccountStore.js';
import type { PusherStore } from '../push/PusherStore.js';

export class DeviceDeletion {
  constructor(
    private readonly db: SqlDatabase,
    private readonly accounts: AccountStore,
    private readonly e2ee: E2eeStores,
    private readonly toDevice: ToDeviceInbox,
    private readonly pushers: PusherStore,
  ) {}

  /** Deletes the devices that exist among `deviceIds`; unknown IDs are ignored (deleted before). */
  delete(userId: string, deviceIds: Iterable<string>): void {
    this.db.transaction(() => {
      for (const deviceId of deviceIds) {
        const existed = this.accounts.device(userId, deviceId) !== null;
        this.accounts.deleteDevice(userId, deviceId);
        this.e2ee.deviceKeys.delete(userId, deviceId);
        this.e2ee.oneTimeKeys.deleteDevice(userId, deviceId);
        this.e2ee.crossSigning.deleteDevice(userId, deviceId);
        this.toDevice.deleteDevice(userId, deviceId);
        this.pushers.removeForDevice(userId, deviceId);
        if (existed) this.e2ee.deviceLists.record(userId, null, deviceId);
      }
    })();
  }

  /** POST /logout: the token's device goes. */
  logout(accessToken: string): void {
    const session = this.accounts.sessionForToken(accessToken);
    if (session) this.delete(session.userId, [session.deviceId]);
  }

  /** POST /logout/all: every device and token of the user goes. */
  logoutAll(userId: string): void {
    this.db.transaction(() => {
      this.delete(userId, this.accounts.devices(userId).map((d) => d.device_id));
      this.accounts.logoutAll(userId);
    })();
  }
}
