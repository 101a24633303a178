// Reading a room's graph as other servers need it: the current state as events, and the auth chain of a
// set of events (every event reachable through auth_events), for send_join's answer, /state and /event_auth.
import type { EventStore } from '../../events/EventStore.js';
import { STRIPPED_STATE_TYPES } from '../../events/StrippedState.js';
import type { RoomEvent, StateEvents } from '../eventauth/RoomState.js';
import type { Pdu } from '../pdu/Pdu.js';

/** The events of a state given as ids (an id whose PDU is missing is left out). */
export function stateEventsOf(events: EventStore, ids: Iterable<[string, string]>): StateEvents {
  const out: StateEvents = new Map();
  for (const [key, id] of ids) {
    const entry = events.pduEntry(id);
    if (entry) out.set(key, entry.event);
  }
  return out;
}

export function currentStateEvents(events: EventStore, roomId: string): StateEvents {
  return stateEventsOf(events, events.stateIds(roomId));
}

/** Every event reachable from `from` through auth_events (without `from` itself unless reached), by depth. */
export function authChainOf(events: EventStore, from: Iterable<RoomEvent>): RoomEvent[] {
  const seen = new Map<string, RoomEvent>();
  const todo = [...from].flatMap((e) => e.auth_events);
  while (todo.length > 0) {
    const id = todo.pop()!;
    if (seen.has(id)) continue;
    const entry = events.pduEntry(id);
    if (!entry) continue;
    seen.set(id, entry.event);
    todo.push(...entry.event.auth_events);
  }
  return [...seen.values()].sort((a, b) => a.depth - b.depth);
}

/** The PDU as sent to other servers: the stored, signed one (redacted if it was). */
export function pdusOf(events: EventStore, list: Iterable<RoomEvent>): Pdu[] {
  const out: Pdu[] = [];
  for (const e of list) {
    const pdu = events.pdu(e.event_id);
    if (pdu) out.push(pdu);
  }
  return out;
}

/**
 * The room's create event and the state that describes it, as signed PDUs: what invite v2's
 * `invite_room_state` and send_knock's `knock_room_state` carry (Matrix 1.16: PDUs, the create event included).
 */
export function strippedStatePdus(events: EventStore, roomId: string): Pdu[] {
  const out: Pdu[] = [];
  for (const type of STRIPPED_STATE_TYPES) {
    const ev = events.stateEvent(roomId, type, '');
    const pdu = ev && events.pdu(ev.event_id);
    if (pdu) out.push(pdu);
  }
  return out;
}
