// The EDUs another server sends in a /send transaction, each only about that server's own users:
// - m.typing and m.receipt (m.read) for rooms this server is in, about users joined there, fed into the
//   same trackers local clients' typing and receipts go to, so /sync shows them;
// - m.presence of users who share a room here, shown by /sync as local users' presence is;
// - m.device_list_update and m.signing_key_update of users who share a room here: recorded on the
//   device-list stream, so local clients see the user in /sync's device_lists.changed and fetch the keys
//   again (keys of other servers' users are not kept here: every /keys/query asks their server);
// - m.direct_to_device, to this server's users' devices (InboundToDevice).
// Other EDU types, anything malformed, and typing and receipts for a room whose server ACL denies the
// origin are ignored.
import type { HomeserverContext } from '../../HomeserverContext.js';
import type { PresenceState } from '../../ephemeral/PresenceTracker.js';
import { roomAllows } from '../acl/RoomServerAcl.js';
import { domainOf } from '../eventauth/RoomState.js';
import { InboundToDevice } from './InboundToDevice.js';
import { isJsonObject } from '../../http/RequestReader.js';

const PRESENCE_STATES = new Set<unknown>(['online', 'offline', 'unavailable']);
const MAX_STATUS_MSG_LENGTH = 1024;
const MAX_DEVICE_ID_LENGTH = 255;

export class InboundEdus {
  private readonly toDevice: InboundToDevice;

  constructor(private readonly hs: HomeserverContext) {
    this.toDevice = new InboundToDevice(hs);
  }

  receive(origin: string, edu: unknown): void {
    if (!isJsonObject(edu) || !isJsonObject(edu['content'])) return;
    const c = edu['content'];
    switch (edu['edu_type']) {
      case 'm.typing':
        return this.typing(origin, c);
      case 'm.receipt':
        return this.receipts(origin, c);
      case 'm.presence':
        return this.presence(origin, c);
      case 'm.device_list_update':
        return this.deviceListUpdate(origin, c);
      case 'm.signing_key_update':
        if (this.sharesRoom(origin, c['user_id'])) this.recordDeviceChange(c['user_id'] as string, null);
        return;
      case 'm.direct_to_device':
        return this.toDevice.receive(origin, c);
    }
  }

  /** A user of `origin` joined to a room this server is in. */
  private isJoinedRemote(origin: string, roomId: unknown, userId: unknown): userId is string {
    if (typeof roomId !== 'string' || typeof userId !== 'string' || domainOf(userId) !== origin) return false;
    return this.hs.events.membership(roomId, userId)?.membership === 'join' && roomAllows(this.hs.events, roomId, origin);
  }

  /** A user of `origin` joined to or invited into some room here: someone local users may hear about. */
  private sharesRoom(origin: string, userId: unknown): userId is string {
    return typeof userId === 'string' && userId.startsWith('@') && domainOf(userId) === origin && this.hs.e2ee.deviceLists.roomsOf(userId).length > 0;
  }

  private typing(origin: string, c: Record<string, unknown>): void {
    const roomId = c['room_id'];
    if (typeof c['typing'] !== 'boolean' || !this.isJoinedRemote(origin, roomId, c['user_id'])) return;
    this.hs.typing.set(roomId as string, c['user_id'] as string, c['typing']);
  }

  private receipts(origin: string, content: Record<string, unknown>): void {
    const { hs } = this;
    for (const [roomId, byType] of Object.entries(content)) {
      if (!isJsonObject(byType) || !isJsonObject(byType['m.read'])) continue;
      let moved = false;
      for (const [userId, receipt] of Object.entries(byType['m.read'])) {
        if (!this.isJoinedRemote(origin, roomId, userId) || !isJsonObject(receipt) || !Array.isArray(receipt['event_ids'])) continue;
        const data = isJsonObject(receipt['data']) ? receipt['data'] : {};
        const threadId = typeof data['thread_id'] === 'string' ? data['thread_id'] : '';
        for (const eventId of receipt['event_ids']) {
          const ev = typeof eventId === 'string' ? hs.events.event(eventId) : null;
          if (ev && ev.room_id === roomId && hs.receipts.set(roomId, userId, 'm.read', threadId, eventId as string, ev.pos)) moved = true;
        }
      }
      if (moved) hs.notifier.notify({ rooms: [roomId] });
    }
  }

  /** `{push: [{user_id, presence, last_active_ago?, status_msg?, currently_active?}]}` */
  private presence(origin: string, c: Record<string, unknown>): void {
    if (!Array.isArray(c['push'])) return;
    for (const p of c['push']) {
      if (!isJsonObject(p) || !PRESENCE_STATES.has(p['presence']) || !this.sharesRoom(origin, p['user_id'])) continue;
      const ago = p['last_active_ago'];
      const msg = p['status_msg'];
      const active = p['currently_active'];
      this.hs.presence.setRemote(p['user_id'], {
        presence: p['presence'] as PresenceState,
        ...(typeof msg === 'string' && msg.length <= MAX_STATUS_MSG_LENGTH && { statusMsg: msg }),
        ...(Number.isSafeInteger(ago) && (ago as number) >= 0 && { lastActiveAgo: ago as number }),
        ...(typeof active === 'boolean' && { currentlyActive: active }),
      });
    }
  }

  private deviceListUpdate(origin: string, c: Record<string, unknown>): void {
    const deviceId = c['device_id'];
    if (typeof deviceId !== 'string' || deviceId.length === 0 || deviceId.length > MAX_DEVICE_ID_LENGTH || !Number.isSafeInteger(c['stream_id'])) return;
    if (this.sharesRoom(origin, c['user_id'])) this.recordDeviceChange(c['user_id'], deviceId);
  }

  private recordDeviceChange(userId: string, deviceId: string | null): void {
    this.hs.db.transaction(() => this.hs.e2ee.deviceLists.record(userId, null, deviceId))();
  }
}
