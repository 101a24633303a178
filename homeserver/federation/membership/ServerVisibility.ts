// What another server may see of a room's history (the events it reads with /event, /backfill and
// get_missing_events, and the state it reads with /state and /state_ids): judged by the m.room.history_visibility in the state before each event, as for a
// user, with the server's users counting together: `world_readable` and `shared` show every event,
// `invited` those at which one of its users was invited or joined, `joined` those at which one was
// joined. An event the server may not see is handed over redacted, so the room's graph stays whole.
import type { EventStore } from '../../events/EventStore.js';
import { isSupportedRoomVersion } from '../../rooms/RoomVersions.js';
import { domainOf, type RoomEvent } from '../eventauth/RoomState.js';
import { redactEvent } from '../pdu/EventRedaction.js';
import type { Pdu } from '../pdu/Pdu.js';

/** The event as `server` may have it: its stored PDU, or that redacted (null: not stored). */
export function pduForServer(events: EventStore, server: string, event: RoomEvent): Pdu | null {
  const pdu = events.pdu(event.event_id);
  if (!pdu) return null;
  const version = events.room(event.room_id)?.room_version;
  if (version === undefined || !isSupportedRoomVersion(version) || serverMaySee(events, server, event)) return pdu;
  return redactEvent(version, pdu) as Pdu;
}

/** Whether `server` may see the event by the room's history visibility in the state before it. */
export function serverMaySee(events: EventStore, server: string, event: RoomEvent): boolean {
  const state = stateBefore(events, event);
  // An outlier (known from an auth chain) has no state recorded here: it is what auth chains carry anyway.
  if (!state) return true;
  const hvId = state.get('m.room.history_visibility\u0000');
  const hv = (hvId && events.pduEntry(hvId)?.event.content['history_visibility']) || 'shared';
  if (hv === 'world_readable' || hv === 'shared') return true;
  for (const [key, id] of state) {
    if (!key.startsWith('m.room.member\u0000') || domainOf(key.slice('m.room.member\u0000'.length)) !== server) continue;
    const membership = events.pduEntry(id)?.event.content['membership'];
    if (membership === 'join' || (hv === 'invited' && membership === 'invite')) return true;
  }
  return false;
}

function stateBefore(events: EventStore, event: RoomEvent): Map<string, string> | null {
  const groups = events.stateGroups.ofEvent(event.event_id);
  if (groups) return events.stateGroups.state(groups.before);
  const stored = events.event(event.event_id);
  if (!stored) return null;
  return new Map([...events.stateMapAt(event.room_id, stored.pos - 1)].map(([key, e]) => [key, e.event_id]));
}
