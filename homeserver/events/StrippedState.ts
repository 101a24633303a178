// The stripped state an invitee sees (spec: invite_room_state): enough to show the room in an invite list.
import type { StrippedStateEvent } from '../contracts.js';
import type { EventStore } from './EventStore.js';
import type { StoredEvent } from './StoredEvent.js';

/** The state types an invitee or knocker is shown of a room. */
export const STRIPPED_STATE_TYPES = [
  'm.room.create',
  'm.room.join_rules',
  'm.room.name',
  'm.room.avatar',
  'm.room.topic',
  'm.room.canonical_alias',
  'm.room.encryption',
];

export function strip(ev: StoredEvent): StrippedStateEvent {
  return { type: ev.type, state_key: ev.state_key ?? '', sender: ev.sender, content: ev.content };
}

export function strippedState(events: EventStore, roomId: string): StrippedStateEvent[] {
  const out: StrippedStateEvent[] = [];
  for (const type of STRIPPED_STATE_TYPES) {
    const ev = events.stateEvent(roomId, type, '');
    if (ev) out.push(strip(ev));
  }
  return out;
}

/**
 * The stripped state another server sent with an invite, or in answer to a knock (kept in the PDU's
 * `unsigned`), as far as it is well formed.
 */
export function invitedRoomState(pdu: { unsigned?: Record<string, unknown> } | null, key: 'invite_room_state' | 'knock_room_state' = 'invite_room_state'): StrippedStateEvent[] {
  const list = pdu?.unsigned?.[key];
  if (!Array.isArray(list)) return [];
  return list.filter(
    (e): e is StrippedStateEvent =>
      typeof e === 'object' && e !== null && typeof e.type === 'string' && typeof e.state_key === 'string' && typeof e.sender === 'string' && typeof e.content === 'object' && e.content !== null,
  );
}
