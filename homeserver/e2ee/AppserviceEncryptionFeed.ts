// The room core's side of the EncryptionStream contract: to-device messages, device-list changes and key
// counts, read by the appservice side for appservices that take part in encryption.
import type { AccountStore } from '../accounts/AccountStore.js';
import type { DeviceKeyCounts, EncryptionStream } from '../contracts.js';
import type { ToDeviceInbox } from '../ephemeral/ToDeviceInbox.js';
import type { EventStore } from '../events/EventStore.js';
import type { StreamCounter } from '../storage/StreamCounter.js';
import type { E2eeStores } from './E2eeStores.js';

export function appserviceEncryptionFeed(
  toDevice: ToDeviceInbox,
  e2ee: E2eeStores,
  accounts: AccountStore,
  events: EventStore,
  counter: StreamCounter,
): EncryptionStream {
  return {
    toDeviceAfter: (after, limit) =>
      toDevice.after(after, limit).map((m) => ({
        pos: m.pos,
        message: { to_user_id: m.userId, to_device_id: m.deviceId, sender: m.sender, type: m.type, content: m.content },
      })),
    deleteToDevice: (positions) => toDevice.deleteDelivered(positions),
    deviceListChangesAfter: (after, limit) => e2ee.deviceLists.changesAfter(after, limit),
    joinedRooms: (userId) => events.membershipsOfUser(userId).filter((m) => m.membership === 'join').map((m) => m.room_id),
    deviceKeyCounts: (userId): DeviceKeyCounts[] =>
      accounts.devices(userId).map((d) => ({
        deviceId: d.device_id,
        oneTimeKeyCounts: e2ee.oneTimeKeys.counts(userId, d.device_id),
        unusedFallbackKeyTypes: e2ee.oneTimeKeys.unusedFallbackTypes(userId, d.device_id),
      })),
    head: () => counter.current(),
    onChange: (listener) => {
      // Changes are announced from inside the writer's transaction: the listener runs once it committed.
      const later = (): void => queueMicrotask(listener);
      const offSend = toDevice.onSend(later);
      const offLists = e2ee.deviceLists.onChange(later);
      return () => {
        offSend();
        offLists();
      };
    },
  };
}
