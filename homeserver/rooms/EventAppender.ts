// The one path by which an event enters a room: content shape checks, size limit, auth rules against the
// current state, then the append. Call inside EventStore.write() so check and insert are one transaction.
import { MatrixError } from '../MatrixError.js';
import type { EventStore, NewEvent, RoomRow } from '../events/EventStore.js';
import type { StoredEvent } from '../events/StoredEvent.js';
import { authorizeEvent } from './AuthRules.js';
import { checkCanonicalNumbers, checkEventContent, checkEventLimits } from './EventContentRules.js';

export class EventAppender {
  constructor(private readonly events: EventStore) {}

  requireRoom(roomId: string): RoomRow {
    const room = this.events.room(roomId);
    if (!room) throw new MatrixError(404, 'M_NOT_FOUND', `Unknown room ${roomId}`);
    return room;
  }

  append(room: RoomRow, ev: NewEvent): StoredEvent {
    checkEventContent(ev.type, ev.state_key, ev.content);
    checkCanonicalNumbers(ev.content);
    checkEventLimits(ev);
    authorizeEvent(ev, this.events.liveState(room.room_id), room.room_version);
    return this.events.append(ev);
  }
}
