// The spec's authorization rules (room versions 10/11) for a single server: every event is checked against
// the room's current state before it is stored. A rejection is 403 M_FORBIDDEN with the reason.
import { MatrixError } from '../MatrixError.js';
import { PowerLevels } from './PowerLevels.js';
import { creatorOf } from './RoomVersions.js';
import { membershipIn, type RoomStateView } from './RoomStateView.js';

export interface EventToAuthorize {
  type: string;
  sender: string;
  state_key?: string;
  content: Record<string, unknown>;
}

function forbid(reason: string): never {
  throw new MatrixError(403, 'M_FORBIDDEN', reason);
}

export function authorizeEvent(ev: EventToAuthorize, state: RoomStateView, roomVersion: string): void {
  if (ev.type === 'm.room.create') {
    if (state.get('m.room.create', '')) forbid('The room has already been created');
    if (ev.state_key !== '') forbid('m.room.create must have an empty state key');
    return;
  }
  const create = state.get('m.room.create', '');
  if (!create) forbid('The room has no create event');
  const pl = PowerLevels.of(state, roomVersion);

  if (ev.type === 'm.room.member') {
    authorizeMembership(ev, state, pl, creatorOf(roomVersion, create));
    return;
  }

  if (membershipIn(state, ev.sender) !== 'join') forbid(`User ${ev.sender} is not in the room`);
  const senderLevel = pl.userLevel(ev.sender);
  const isState = ev.state_key !== undefined;
  const needed = pl.eventLevel(ev.type, isState);
  if (senderLevel < needed) {
    forbid(`You don't have permission to send ${ev.type} (needs power level ${needed}, you have ${senderLevel})`);
  }
  if (isState && ev.state_key!.startsWith('@') && ev.state_key !== ev.sender) {
    forbid('You cannot set state keyed by another user ID');
  }
  if (ev.type === 'm.room.power_levels') authorizePowerLevelsChange(ev, pl, senderLevel);
}

function authorizeMembership(
  ev: EventToAuthorize,
  state: RoomStateView,
  pl: PowerLevels,
  creator: string,
): void {
  const target = ev.state_key;
  if (target === undefined || !target.startsWith('@')) forbid('m.room.member needs a user ID as state key');
  const membership = ev.content['membership'];
  const targetMembership = membershipIn(state, target);
  const senderMembership = membershipIn(state, ev.sender);
  const joinRule = String(state.get('m.room.join_rules', '')?.content['join_rule'] ?? 'invite');
  const senderLevel = pl.userLevel(ev.sender);
  const targetLevel = pl.userLevel(target);

  switch (membership) {
    case 'join': {
      // The creator's own join directly after the create event.
      if (state.size() === 1 && target === creator && ev.sender === creator) return;
      if (ev.sender !== target) forbid('You cannot force another user to join');
      if (targetMembership === 'ban') forbid('You are banned from this room');
      if (joinRule === 'public') return;
      if (targetMembership === 'join' || targetMembership === 'invite') return;
      forbid('You are not invited to this room');
    }
    case 'invite': {
      if (senderMembership !== 'join') forbid(`User ${ev.sender} is not in the room`);
      if (targetMembership === 'ban') forbid(`${target} is banned from the room`);
      if (targetMembership === 'join') forbid(`${target} is already in the room`);
      if (senderLevel < pl.invite) forbid(`You don't have permission to invite users (needs power level ${pl.invite})`);
      return;
    }
    case 'leave': {
      if (ev.sender === target) {
        if (targetMembership === 'join' || targetMembership === 'invite' || targetMembership === 'knock') return;
        forbid(`User ${target} is not in the room`);
      }
      if (senderMembership !== 'join') forbid(`User ${ev.sender} is not in the room`);
      if (targetMembership === 'ban') {
        if (senderLevel < pl.ban) forbid(`You don't have permission to unban users (needs power level ${pl.ban})`);
        return;
      }
      if (senderLevel < pl.kick) forbid(`You don't have permission to kick users (needs power level ${pl.kick})`);
      if (targetLevel >= senderLevel) forbid(`You cannot kick a user whose power level is not below yours`);
      return;
    }
    case 'ban': {
      if (senderMembership !== 'join') forbid(`User ${ev.sender} is not in the room`);
      if (senderLevel < pl.ban) forbid(`You don't have permission to ban users (needs power level ${pl.ban})`);
      if (targetLevel >= senderLevel) forbid(`You cannot ban a user whose power level is not below yours`);
      return;
    }
    case 'knock': {
      if (joinRule !== 'knock' && joinRule !== 'knock_restricted') forbid('This room does not allow knocking');
      if (ev.sender !== target) forbid('You cannot knock for another user');
      if (targetMembership === 'ban') forbid('You are banned from this room');
      if (targetMembership === 'join') forbid('You are already in the room');
      if (targetMembership === 'invite') forbid('You are already invited to this room');
      return;
    }
    default:
      forbid(`Unknown membership ${JSON.stringify(membership)}`);
  }
}

const TOP_LEVELS = ['users_default', 'events_default', 'state_default', 'ban', 'redact', 'kick', 'invite'];

function asLevels(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function authorizePowerLevelsChange(ev: EventToAuthorize, pl: PowerLevels, senderLevel: number): void {
  const old = pl.raw;
  if (!old) return; // the room's first power levels event
  const next = ev.content;
  const checkChange = (what: string, before: unknown, after: unknown): void => {
    if (before === after) return;
    if (typeof before === 'number' && before > senderLevel) {
      forbid(`You cannot change ${what}: its current level ${before} is above yours (${senderLevel})`);
    }
    if (typeof after === 'number' && after > senderLevel) {
      forbid(`You cannot set ${what} to ${after}, above your own level (${senderLevel})`);
    }
  };
  for (const key of TOP_LEVELS) checkChange(key, old[key], next[key]);
  const oldEvents = asLevels(old['events']);
  const newEvents = asLevels(next['events']);
  for (const type of new Set([...Object.keys(oldEvents), ...Object.keys(newEvents)])) {
    checkChange(`the level of ${type}`, oldEvents[type], newEvents[type]);
  }
  const oldNotif = asLevels(old['notifications']);
  const newNotif = asLevels(next['notifications']);
  for (const key of new Set([...Object.keys(oldNotif), ...Object.keys(newNotif)])) {
    checkChange(`notifications.${key}`, oldNotif[key], newNotif[key]);
  }
  const oldUsers = asLevels(old['users']);
  const newUsers = asLevels(next['users']);
  for (const user of new Set([...Object.keys(oldUsers), ...Object.keys(newUsers)])) {
    const before = oldUsers[user];
    const after = newUsers[user];
    if (before === after) continue;
    if (user !== ev.sender && typeof before === 'number' && before >= senderLevel) {
      forbid(`You cannot change the power level of ${user}, which is not below yours`);
    }
    if (typeof after === 'number' && after > senderLevel) {
      forbid(`You cannot give ${user} power level ${after}, above your own (${senderLevel})`);
    }
  }
}
