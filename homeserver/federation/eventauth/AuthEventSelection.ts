// Which state an event's auth_events must come from ("Auth events selection" in the Server-Server API),
// for room versions 10 and 11: the create event, the power levels, the sender's membership and, for
// membership events, the target's, the join rules, a third-party invite and the authorising user's join.
import { stateKeyOf } from './RoomState.js';

interface SelectableEvent {
  type: string;
  sender: string;
  state_key?: string;
  content: Record<string, unknown>;
}

/** The state keys (stateKeyOf) the auth events of `event` may have. */
export function authStateKeys(event: SelectableEvent): string[] {
  if (event.type === 'm.room.create') return [];
  const keys = [stateKeyOf('m.room.create', ''), stateKeyOf('m.room.power_levels', ''), stateKeyOf('m.room.member', event.sender)];
  if (event.type === 'm.room.member' && typeof event.state_key === 'string') {
    keys.push(stateKeyOf('m.room.member', event.state_key));
    const membership = event.content['membership'];
    if (membership === 'join' || membership === 'invite' || membership === 'knock') keys.push(stateKeyOf('m.room.join_rules', ''));
    const tpi = event.content['third_party_invite'];
    const token = typeof tpi === 'object' && tpi !== null ? (tpi as { signed?: { token?: unknown } }).signed?.token : undefined;
    if (membership === 'invite' && typeof token === 'string') keys.push(stateKeyOf('m.room.third_party_invite', token));
    const via = event.content['join_authorised_via_users_server'];
    if (membership === 'join' && typeof via === 'string') keys.push(stateKeyOf('m.room.member', via));
  }
  return [...new Set(keys)];
}
