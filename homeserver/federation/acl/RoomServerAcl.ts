// A room's m.room.server_acl applied to a server (docs/federation.md#room-acls): the current state's event,
// judged by ServerAcl; a room without one allows every server. Used for every room endpoint another server
// calls, for each PDU and typing or receipt EDU of a /send, and for where the room's events are sent.
import type { EventStore } from '../../events/EventStore.js';
import { MatrixError } from '../../MatrixError.js';
import { ServerAcl } from './ServerAcl.js';

/** The room's current ACL, or null when the room has none. */
export function roomAclOf(events: Pick<EventStore, 'stateEvent'>, roomId: string): ServerAcl | null {
  const ev = events.stateEvent(roomId, 'm.room.server_acl', '');
  return ev ? ServerAcl.fromContent(ev.content) : null;
}

export function roomAllows(events: Pick<EventStore, 'stateEvent'>, roomId: string, server: string): boolean {
  return roomAclOf(events, roomId)?.allows(server) ?? true;
}

/** 403 M_FORBIDDEN, as the spec asks, when the room's ACL denies `origin`. */
export function requireRoomAllows(events: Pick<EventStore, 'stateEvent'>, roomId: string, origin: string): void {
  if (!roomAllows(events, roomId, origin)) throw new MatrixError(403, 'M_FORBIDDEN', `${origin} is denied by the server ACL of room ${roomId}`);
}
