// A room as the space hierarchy shows it (the spec's RoomSummary plus children_state), read from this
// server's current state, and who may see it: a local user (client GET /hierarchy) or another server
// (federation GET /hierarchy). The spec's rules: members and invitees, public and knockable rooms,
// world-readable history, and restricted rooms to those joined to a room their allow list names.
import type { EventStore } from '../events/EventStore.js';
import { isJsonObject, type JsonObject } from '../http/RequestReader.js';
import { domainOf } from '../federation/eventauth/RoomState.js';


/** An m.space.child event as children_state carries it: stripped, with origin_server_ts. */
export interface ChildState {
  type: 'm.space.child';
  state_key: string;
  content: JsonObject;
  sender: string;
  origin_server_ts: number;
}

/** The vias of a child event; the spec ignores a child without any. */
export function viaOf(child: ChildState): string[] {
  const via = child.content['via'];
  return Array.isArray(via) ? via.filter((v): v is string => typeof v === 'string' && v.length > 0 && v.length <= 255) : [];
}

const isSuggested = (child: ChildState): boolean => child.content['suggested'] === true;

/** A valid `order`: at most 50 printable ASCII characters. */
function orderOf(child: ChildState): string | null {
  const order = child.content['order'];
  return typeof order === 'string' && order.length <= 50 && /^[\x20-\x7E]*$/.test(order) ? order : null;
}

/** The spec's order of a space's children: by `order` (those without last), then timestamp, then room ID. */
export function sortChildren(children: ChildState[]): ChildState[] {
  const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return [...children].sort((a, b) => {
    const oa = orderOf(a);
    const ob = orderOf(b);
    if (oa !== null && ob !== null && oa !== ob) return byString(oa, ob);
    if ((oa === null) !== (ob === null)) return oa === null ? 1 : -1;
    return a.origin_server_ts - b.origin_server_ts || byString(a.state_key, b.state_key);
  });
}

/** The room's m.space.child events with a via, in the spec's order (suggested ones only if asked). */
export function childrenStateOf(events: EventStore, roomId: string, suggestedOnly: boolean): ChildState[] {
  const children: ChildState[] = [];
  for (const ev of events.currentState(roomId)) {
    if (ev.type !== 'm.space.child' || ev.state_key === null || !ev.state_key.startsWith('!')) continue;
    const child: ChildState = { type: 'm.space.child', state_key: ev.state_key, content: ev.content, sender: ev.sender, origin_server_ts: ev.origin_server_ts };
    if (viaOf(child).length > 0 && (!suggestedOnly || isSuggested(child))) children.push(child);
  }
  return sortChildren(children);
}

/** The room's summary from the current state, without children_state; null when the room is not here. */
export function roomSummaryOf(events: EventStore, roomId: string): JsonObject | null {
  const room = events.room(roomId);
  if (!room) return null;
  const state = (type: string): JsonObject | undefined => events.stateEvent(roomId, type, '')?.content;
  const joinRule = state('m.room.join_rules')?.['join_rule'];
  const summary: JsonObject = {
    room_id: roomId,
    num_joined_members: events.members(roomId, 'join').length,
    world_readable: state('m.room.history_visibility')?.['history_visibility'] === 'world_readable',
    guest_can_join: state('m.room.guest_access')?.['guest_access'] === 'can_join',
    join_rule: typeof joinRule === 'string' ? joinRule : 'invite',
    room_version: room.room_version,
  };
  const fields: Array<[string, string, string]> = [
    ['name', 'm.room.name', 'name'],
    ['topic', 'm.room.topic', 'topic'],
    ['canonical_alias', 'm.room.canonical_alias', 'alias'],
    ['avatar_url', 'm.room.avatar', 'url'],
    ['room_type', 'm.room.create', 'type'],
  ];
  for (const [field, type, key] of fields) {
    const v = state(type)?.[key];
    if (typeof v === 'string' && v !== '') summary[field] = v;
  }
  if (state('m.room.encryption')?.['algorithm'] === 'm.megolm.v1.aes-sha2') summary['encryption'] = 'm.megolm.v1.aes-sha2';
  const allowed = allowedRoomIds(state('m.room.join_rules'));
  if (allowed.length > 0) summary['allowed_room_ids'] = allowed;
  return summary;
}

/** The rooms a restricted room's join rules let members of join. */
export function allowedRoomIds(joinRules: JsonObject | undefined): string[] {
  const rule = joinRules?.['join_rule'];
  if ((rule !== 'restricted' && rule !== 'knock_restricted') || !Array.isArray(joinRules?.['allow'])) return [];
  return (joinRules['allow'] as unknown[])
    .filter((a): a is JsonObject => isJsonObject(a) && a['type'] === 'm.room_membership' && typeof a['room_id'] === 'string')
    .map((a) => a['room_id'] as string);
}

/**
 * Whether anyone may see the room without being in it: public, knockable or world-readable. Restricted
 * rooms depend on who asks (see userMaySee, serverMaySee).
 */
function openToAll(summary: JsonObject): boolean {
  const rule = summary['join_rule'];
  return summary['world_readable'] === true || rule === 'public' || rule === 'knock' || rule === 'knock_restricted';
}

/** The spec's rule for a local user; `summary` may come from another server (then the user is not joined). */
export function userMaySee(events: EventStore, userId: string, summary: JsonObject): boolean {
  const roomId = summary['room_id'] as string;
  const m = events.membership(roomId, userId)?.membership;
  if (m === 'join' || m === 'invite' || openToAll(summary)) return true;
  if (m === 'ban') return false;
  const allowed = Array.isArray(summary['allowed_room_ids']) ? (summary['allowed_room_ids'] as unknown[]) : [];
  const rule = summary['join_rule'];
  return (rule === 'restricted' || rule === 'knock_restricted') && allowed.some((r) => typeof r === 'string' && events.membership(r, userId)?.membership === 'join');
}

/**
 * Whether another server may have the room's summary: what any user of it could see, or a member or
 * invitee of it in the room. A restricted room is handed over with its allowed_room_ids: the asking server
 * knows which of its users are in those rooms.
 */
export function serverMaySee(events: EventStore, server: string, summary: JsonObject): boolean {
  const rule = summary['join_rule'];
  if (openToAll(summary) || rule === 'restricted') return true;
  return [...events.members(summary['room_id'] as string, 'join'), ...events.members(summary['room_id'] as string, 'invite')].some((m) => domainOf(m.user_id) === server);
}

/** Whether this server is in the room (has a joined member): only then is its copy of the state current. */
export function serverInRoom(events: EventStore, serverName: string, roomId: string): boolean {
  return events.room(roomId) !== null && events.members(roomId, 'join').some((m) => domainOf(m.user_id) === serverName);
}
