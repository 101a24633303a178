// The room's current state once a PDU from another server joins its timeline: the state before the event
// plus the event itself; where the room's graph has other forward extremities (a fork), that is resolved
// with the current state by state resolution v2.
import type { AuthContext } from '../eventauth/EventAuthRules.js';
import { stateKeyOf, type RoomEvent } from '../eventauth/RoomState.js';
import { resolveStateV2, type EventSource, type StateIds } from '../stateres/StateResolutionV2.js';

export function currentStateAfter(
  ctx: AuthContext,
  event: RoomEvent,
  stateBefore: StateIds,
  current: StateIds,
  /** Whether forward extremities other than the event's prev_events remain. */
  forked: boolean,
  events: EventSource,
): StateIds {
  const after = new Map(stateBefore);
  if (event.state_key !== undefined) after.set(stateKeyOf(event.type, event.state_key), event.event_id);
  return forked ? resolveStateV2(ctx, [current, after], events) : after;
}
