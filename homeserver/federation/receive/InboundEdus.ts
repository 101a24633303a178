// The EDUs another server sends in a /send transaction: m.typing and m.receipt (m.read) for rooms this
// server is in, about that server's own users who are joined there, fed into the same trackers local
// clients' typing and receipts go to, so /sync shows them. Other EDU types and anything else are ignored,
// as are typing and receipts for a room whose server ACL denies the origin.
import type { HomeserverContext } from '../../HomeserverContext.js';
import { roomAllows } from '../acl/RoomServerAcl.js';
import { domainOf } from '../eventauth/RoomState.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function receiveEdu(hs: HomeserverContext, origin: string, edu: unknown): void {
  if (!isObject(edu) || !isObject(edu['content'])) return;
  if (edu['edu_type'] === 'm.typing') typing(hs, origin, edu['content']);
  else if (edu['edu_type'] === 'm.receipt') receipts(hs, origin, edu['content']);
}

/** A user of `origin` joined to a room this server is in. */
function isJoinedRemote(hs: HomeserverContext, origin: string, roomId: unknown, userId: unknown): userId is string {
  if (typeof roomId !== 'string' || typeof userId !== 'string' || domainOf(userId) !== origin) return false;
  return hs.events.membership(roomId, userId)?.membership === 'join' && roomAllows(hs.events, roomId, origin);
}

function typing(hs: HomeserverContext, origin: string, c: Record<string, unknown>): void {
  const roomId = c['room_id'];
  if (typeof c['typing'] !== 'boolean' || !isJoinedRemote(hs, origin, roomId, c['user_id'])) return;
  hs.typing.set(roomId as string, c['user_id'] as string, c['typing']);
}

function receipts(hs: HomeserverContext, origin: string, content: Record<string, unknown>): void {
  for (const [roomId, byType] of Object.entries(content)) {
    if (!isObject(byType) || !isObject(byType['m.read'])) continue;
    let moved = false;
    for (const [userId, receipt] of Object.entries(byType['m.read'])) {
      if (!isJoinedRemote(hs, origin, roomId, userId) || !isObject(receipt) || !Array.isArray(receipt['event_ids'])) continue;
      const data = isObject(receipt['data']) ? receipt['data'] : {};
      const threadId = typeof data['thread_id'] === 'string' ? data['thread_id'] : '';
      for (const eventId of receipt['event_ids']) {
        const ev = typeof eventId === 'string' ? hs.events.event(eventId) : null;
        if (ev && ev.room_id === roomId && hs.receipts.set(roomId, userId, 'm.read', threadId, eventId as string, ev.pos)) moved = true;
      }
    }
    if (moved) hs.notifier.notify({ rooms: [roomId] });
  }
}
