// The end-to-end encryption part of an appservice transaction, for appservices whose registration says
// `org.matrix.msc3202: true`, under the unstable keys Synapse sends and mautrix reads:
// - `de.sorunome.msc2409.to_device` (MSC4203): to-device messages for its users, each naming its
//   recipient (`to_user_id`, `to_device_id`); only with receive_ephemeral as well. A message to a user only
//   this appservice may act as is deleted once the transaction holding it is stored (nobody else will
//   /sync for that user); one to a user of a shared namespace stays for that user's /sync too.
// - `org.matrix.msc3202.device_lists` {changed, left}: users whose keys changed and who are in a room the
//   appservice is interested in (or are its users), users who newly joined such a room, and users who
//   left and share none of them any more.
// - `org.matrix.msc3202.device_one_time_keys_count` (and Synapse's misspelt `..._key_counts`) and
//   `org.matrix.msc3202.device_unused_fallback_key_types`, per user and device, for the appservice's sender,
//   the recipients of the to-device messages and its users in the rooms of the transaction's events.
// Positions advance in the same SQLite transaction that stores the built transaction.
import type { AppserviceToDeviceMessage, ClientEvent, EncryptionStream, EphemeralEvent, EventStream } from '../contracts.js';
import { coversUser, ownsUser, receivesToDevice, type Appservice } from './Appservice.js';
import type { AppserviceStore } from './AppserviceStore.js';
import type { InterestMatcher } from './InterestMatcher.js';

export interface EncryptionSection {
  /** Keys to merge into the transaction body (none when there is nothing to say). */
  body: Record<string, unknown>;
  toDeviceCount: number;
  /** To-device messages or device-list changes: worth a transaction on their own (key counts are not). */
  worthSending: boolean;
  /** The scan stopped at its limit: more may be waiting. */
  more: boolean;
}

export interface EncryptionLimits {
  maxToDevice: number;
  scanLimit: number;
}

const NOTHING: EncryptionSection = { body: {}, toDeviceCount: 0, worthSending: false, more: false };

export class EncryptionTraffic {
  constructor(
    private readonly store: AppserviceStore,
    private readonly encryption: EncryptionStream,
    private readonly rooms: Pick<EventStream, 'joinedLocalMembers'>,
    private readonly limits: EncryptionLimits,
  ) {}

  /** Call inside the transaction that stores the built transaction. */
  collect(appservice: Appservice, interest: InterestMatcher, events: ClientEvent[], ephemeral: EphemeralEvent[]): EncryptionSection {
    if (!appservice.encryption) return NOTHING;
    const state = this.store.ensureEncryptionState(appservice.id, this.encryption.head());
    const toDevice = receivesToDevice(appservice)
      ? this.toDevice(appservice, state.toDevicePos)
      : { messages: [], owned: [], pos: state.toDevicePos, more: false };
    const lists = this.deviceLists(appservice, interest, events, state.deviceListPos);
    this.store.setEncryptionState(appservice.id, { toDevicePos: toDevice.pos, deviceListPos: lists.pos });
    this.encryption.deleteToDevice(toDevice.owned);

    const body: Record<string, unknown> = {};
    if (toDevice.messages.length > 0) body['de.sorunome.msc2409.to_device'] = toDevice.messages;
    if (lists.changed.length > 0 || lists.left.length > 0) body['org.matrix.msc3202.device_lists'] = { changed: lists.changed, left: lists.left };
    const recipients = toDevice.messages.map((m) => m.to_user_id);
    const rooms = [...events.map((e) => e.room_id), ...ephemeral.flatMap((e) => (e.room_id ? [e.room_id] : []))];
    const counts = this.keyCounts(appservice, rooms, recipients);
    if (Object.keys(counts.oneTimeKeys).length > 0) {
      body['org.matrix.msc3202.device_one_time_keys_count'] = counts.oneTimeKeys;
      body['org.matrix.msc3202.device_one_time_key_counts'] = counts.oneTimeKeys;
      body['org.matrix.msc3202.device_unused_fallback_key_types'] = counts.fallback;
    }
    return {
      body,
      toDeviceCount: toDevice.messages.length,
      worthSending: toDevice.messages.length > 0 || lists.changed.length > 0 || lists.left.length > 0,
      more: toDevice.more || lists.more,
    };
  }

  private toDevice(appservice: Appservice, from: number) {
    const messages: AppserviceToDeviceMessage[] = [];
    const owned: number[] = [];
    let pos = from;
    let scanned = 0;
    let more = false;
    scan: while (scanned < this.limits.scanLimit) {
      const batch = this.encryption.toDeviceAfter(pos, Math.min(this.limits.scanLimit - scanned, 500));
      if (batch.length === 0) break;
      for (const { pos: at, message } of batch) {
        if (messages.length >= this.limits.maxToDevice) {
          more = true;
          break scan;
        }
        pos = at;
        scanned++;
        if (!coversUser(appservice, message.to_user_id)) continue;
        messages.push(message);
        if (ownsUser(appservice, message.to_user_id)) owned.push(at);
      }
    }
    if (scanned >= this.limits.scanLimit) more = true;
    return { messages, owned, pos, more };
  }

  private deviceLists(appservice: Appservice, interest: InterestMatcher, events: ClientEvent[], from: number) {
    const changed = new Set<string>();
    const mayHaveLeft = new Set<string>();
    const changes = this.encryption.deviceListChangesAfter(from, this.limits.scanLimit);
    for (const c of changes) {
      const interested = c.observer === null ? this.tracks(appservice, interest, c.userId) : coversUser(appservice, c.observer);
      if (interested) changed.add(c.userId);
    }
    // Membership in the rooms of this transaction: a newcomer's devices are new to the appservice.
    for (const e of events) {
      if (e.type !== 'm.room.member' || typeof e.state_key !== 'string') continue;
      const membership = e.content['membership'];
      if (membership === 'join') changed.add(e.state_key);
      else if (membership === 'leave' || membership === 'ban') mayHaveLeft.add(e.state_key);
    }
    const left = [...mayHaveLeft].filter((u) => !changed.has(u) && !this.tracks(appservice, interest, u));
    return {
      changed: [...changed].sort(),
      left: left.sort(),
      pos: changes.length > 0 ? changes[changes.length - 1]!.pos : from,
      more: changes.length >= this.limits.scanLimit,
    };
  }

  /** Whether the appservice follows the user's devices: one of its users, or in a room it is interested in. */
  private tracks(appservice: Appservice, interest: InterestMatcher, userId: string): boolean {
    return coversUser(appservice, userId) || this.encryption.joinedRooms(userId).some((roomId) => interest.inRoom(appservice, roomId));
  }

  private keyCounts(appservice: Appservice, roomIds: string[], recipients: string[]) {
    const users = new Set<string>([appservice.senderUserId, ...recipients]);
    for (const roomId of new Set(roomIds)) {
      for (const member of this.rooms.joinedLocalMembers(roomId)) if (coversUser(appservice, member)) users.add(member);
    }
    const oneTimeKeys: Record<string, Record<string, Record<string, number>>> = {};
    const fallback: Record<string, Record<string, string[]>> = {};
    for (const userId of [...users].sort()) {
      for (const d of this.encryption.deviceKeyCounts(userId)) {
        (oneTimeKeys[userId] ??= {})[d.deviceId] = d.oneTimeKeyCounts;
        (fallback[userId] ??= {})[d.deviceId] = d.unusedFallbackKeyTypes;
      }
    }
    return { oneTimeKeys, fallback };
  }
}
