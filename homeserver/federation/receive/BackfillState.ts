// Backfilled events judged against the state before them, as far as what this server holds allows
// (docs/federation.md#backfill). No state is fetched for them: the state before the room's earliest events
// here is known (recorded when they were stored), and walking back from there along single prev_events
// links, the state before each event is the state after it without its own change. The value it
// replaced is the nearest older event of the same key along that walk; where the walk ends first, that key
// is unknown. An event whose auth rules need an unknown key, or that is not on such a linear stretch,
// stays judged by its own auth events only (FetchedEvents).
import { authorizeAgainstState, type AuthContext } from '../eventauth/EventAuthRules.js';
import { authStateKeys } from '../eventauth/AuthEventSelection.js';
import { stateKeyOf, type RoomEvent, type StateEvents } from '../eventauth/RoomState.js';
import type { StateIds } from '../stateres/StateResolutionV2.js';

/** The state before an event: known keys, and the keys whose value is not known here. */
interface PartialState {
  ids: StateIds;
  unknown: Set<string>;
}

export interface BackfillStateSource {
  /** The room's events here whose prev_events the batch may hold, each with the state before it (all known). */
  children: Array<{ event: RoomEvent; stateBefore: StateIds }>;
  /** A stored, not rejected event of the room. */
  get(eventId: string): RoomEvent | undefined;
}

/** The events of `batch` (checked against their own auth events) the state before them rejects, with why. */
export function rejectedByStateBefore(ctx: AuthContext, batch: RoomEvent[], source: BackfillStateSource): Map<string, string> {
  const byId = new Map(batch.map((e) => [e.event_id, e]));
  const before = new Map<string, PartialState>();
  const parentOf = new Map<string, PartialState>();
  const linkChild = (prevEvents: string[], state: PartialState): void => {
    // Only a single prev event has the child's state before as its state after.
    if (prevEvents.length === 1 && byId.has(prevEvents[0]!)) parentOf.set(prevEvents[0]!, state);
  };
  for (const c of source.children) linkChild(c.event.prev_events, { ids: c.stateBefore, unknown: new Set() });
  // Newest first: an event's child is settled before it.
  for (const e of [...batch].sort((x, y) => y.depth - x.depth)) {
    const after = parentOf.get(e.event_id);
    if (!after) continue;
    const state: PartialState = { ids: new Map(after.ids), unknown: new Set(after.unknown) };
    if (e.state_key !== undefined) {
      const key = stateKeyOf(e.type, e.state_key);
      const replaced = olderOfKey(e, key, byId);
      if (replaced) {
        state.ids.set(key, replaced);
        state.unknown.delete(key);
      } else {
        state.ids.delete(key);
        state.unknown.add(key);
      }
    }
    before.set(e.event_id, state);
    linkChild(e.prev_events, state);
  }
  const lookup = (id: string): RoomEvent | undefined => byId.get(id) ?? source.get(id);
  const rejected = new Map<string, string>();
  for (const [eventId, state] of before) {
    const e = byId.get(eventId)!;
    const keys = authStateKeys(e);
    if (keys.some((k) => state.unknown.has(k))) continue;
    const events: StateEvents = new Map();
    let complete = true;
    for (const k of keys) {
      const id = state.ids.get(k);
      if (id === undefined) continue;
      const found = lookup(id);
      if (!found) complete = false;
      else events.set(k, found);
    }
    if (!complete) continue;
    const verdict = authorizeAgainstState(ctx, e, events);
    if (!verdict.allowed) rejected.set(eventId, verdict.reason);
  }
  return rejected;
}

/** The nearest older event of the batch with state key `key`, walking back along single prev_events. */
function olderOfKey(from: RoomEvent, key: string, byId: Map<string, RoomEvent>): string | null {
  let at = from;
  for (let steps = 0; steps <= byId.size; steps++) {
    if (at.prev_events.length !== 1) return null;
    const prev = byId.get(at.prev_events[0]!);
    if (!prev) return null;
    if (prev.state_key !== undefined && stateKeyOf(prev.type, prev.state_key) === key) return prev.event_id;
    at = prev;
  }
  return null;
}
