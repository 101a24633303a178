// A timeline event from another server as the events table holds it (no transaction id: only this
// server's own clients have those).
import type { RoomEvent } from '../federation/eventauth/RoomState.js';
import { redactsInContent } from '../rooms/RoomVersions.js';
import type { StoredEvent } from './StoredEvent.js';

export function storedEventOf(roomVersion: string, event: RoomEvent, pos: number, replacesState: string | null): StoredEvent {
  const redacts = redactsInContent(roomVersion) ? event.content['redacts'] : event.redacts;
  return {
    pos,
    event_id: event.event_id,
    room_id: event.room_id,
    sender: event.sender,
    type: event.type,
    state_key: event.state_key ?? null,
    content: event.content,
    origin_server_ts: event.origin_server_ts,
    redacts: typeof redacts === 'string' ? redacts : null,
    replaces_state: replacesState,
    redacted_by: null,
    txn_key: null,
    txn_id: null,
  };
}
