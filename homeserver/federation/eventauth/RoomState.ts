// A room's state as federation code handles it: events with their ids, keyed by (type, state_key).
import type { RoomStateView, StateEntry } from '../../rooms/RoomStateView.js';
import type { Pdu } from '../pdu/Pdu.js';

/** A PDU with the id computed for it (v4 ids are not carried in the event). */
export type RoomEvent = Pdu & { event_id: string };

/** The key of a state entry; a separator no event type or state key may hold keeps keys distinct. */
export function stateKeyOf(type: string, stateKey: string): string {
  return `${type}\u0000${stateKey}`;
}

/** A room state: state key (stateKeyOf) -> event. */
export type StateEvents = Map<string, RoomEvent>;

export function lookup(state: StateEvents, type: string, stateKey: string): RoomEvent | undefined {
  return state.get(stateKeyOf(type, stateKey));
}

/** The state as the room core's PowerLevels reads it. */
export function stateView(state: StateEvents): RoomStateView {
  return {
    get: (type: string, key: string): StateEntry | undefined => lookup(state, type, key),
    size: () => state.size,
  };
}

/** The server part of a user id. */
export function domainOf(id: string): string {
  const at = id.indexOf(':');
  return at < 0 ? '' : id.slice(at + 1);
}
