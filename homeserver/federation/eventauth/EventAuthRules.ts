// The authorisation rules of room versions 10 and 11 (room version spec, "Authorisation rules"), as
// pure functions over events: checkAuthEvents runs rules 1-2 and then the rest against the event's own
// auth_events; authorizeAgainstState runs the state-dependent rules (3-10) against a given state, as the
// checks on receipt (state before the event, current state) and state resolution's iterative auth
// checks do. Rule numbers in comments are the spec's.
import { isValidUserId } from '../../ids/MatrixIds.js';
import { PowerLevels } from '../../rooms/PowerLevels.js';
import { creatorOf, isSupportedRoomVersion, type RoomVersion } from '../../rooms/RoomVersions.js';
import { verifyJsonSignature } from '../signing/SignedJson.js';
import { decodeBase64, decodeUrlSafeBase64 } from '../signing/UnpaddedBase64.js';
import { authStateKeys } from './AuthEventSelection.js';
import { domainOf, lookup, stateKeyOf, stateView, type RoomEvent, type StateEvents } from './RoomState.js';

export interface AuthContext {
  roomVersion: RoomVersion;
  /** Whether the event carries a valid signature of this server (signatures are checked on receipt). */
  signedBy(event: RoomEvent, serverName: string): boolean;
}

export type AuthResult = { allowed: true } | { allowed: false; reason: string };

const ALLOW: AuthResult = { allowed: true };
const reject = (reason: string): AuthResult => ({ allowed: false, reason });

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Rule 1: the create event. */
function authorizeCreate(ctx: AuthContext, event: RoomEvent): AuthResult {
  if (event.prev_events.length > 0) return reject('A create event has no prev_events');
  if (domainOf(event.room_id) !== domainOf(event.sender)) return reject("The create event's sender is not of the room ID's server");
  const version = event.content['room_version'];
  if (version !== undefined && !isSupportedRoomVersion(version)) return reject(`Room version ${JSON.stringify(version)} is not recognised`);
  if (ctx.roomVersion === '10' && event.content['creator'] === undefined) return reject('A version 10 create event needs a creator');
  return ALLOW;
}

/** Rules 1 and 2, then rules 3-10 against the event's own auth events. */
export function checkAuthEvents(ctx: AuthContext, event: RoomEvent, authEvents: RoomEvent[], isRejected: (eventId: string) => boolean = () => false): AuthResult {
  if (event.type === 'm.room.create') return authorizeCreate(ctx, event);
  const allowed = new Set(authStateKeys(event));
  const state: StateEvents = new Map();
  for (const auth of authEvents) {
    const key = stateKeyOf(auth.type, auth.state_key ?? '');
    if (auth.state_key === undefined) return reject(`Auth event ${auth.event_id} is not a state event`);
    if (state.has(key)) return reject(`Two auth events for (${auth.type}, ${auth.state_key})`);
    if (!allowed.has(key)) return reject(`Auth event ${auth.event_id} (${auth.type}, ${auth.state_key}) is not one this event may cite`);
    if (isRejected(auth.event_id)) return reject(`Auth event ${auth.event_id} was rejected`);
    if (auth.room_id !== event.room_id) return reject(`Auth event ${auth.event_id} is from another room`);
    state.set(key, auth);
  }
  if (!lookup(state, 'm.room.create', '')) return reject('No m.room.create among the auth events');
  return authorizeAgainstState(ctx, event, state);
}

/** Rules 3-10 (rule 1 for a create event) against `state`. */
export function authorizeAgainstState(ctx: AuthContext, event: RoomEvent, state: StateEvents): AuthResult {
  if (event.type === 'm.room.create') return authorizeCreate(ctx, event);
  const create = lookup(state, 'm.room.create', '');
  if (!create) return reject('The room has no create event');
  // 3: m.federate
  if (create.content['m.federate'] === false && domainOf(event.sender) !== domainOf(create.sender)) {
    return reject('The room does not federate and the sender is of another server');
  }
  const pl = PowerLevels.of(stateView(state), ctx.roomVersion);
  const membershipOf = (userId: string): string => {
    const m = lookup(state, 'm.room.member', userId)?.content['membership'];
    return typeof m === 'string' ? m : 'leave';
  };
  // 4
  if (event.type === 'm.room.member') return authorizeMember(ctx, event, state, create, pl, membershipOf);
  // 5
  if (membershipOf(event.sender) !== 'join') return reject(`${event.sender} is not in the room`);
  const senderLevel = pl.userLevel(event.sender);
  // 6
  if (event.type === 'm.room.third_party_invite') {
    return senderLevel >= pl.invite ? ALLOW : reject(`Inviting needs power level ${pl.invite}; ${event.sender} has ${senderLevel}`);
  }
  // 7
  const needed = pl.eventLevel(event.type, event.state_key !== undefined);
  if (needed > senderLevel) return reject(`${event.type} needs power level ${needed}; ${event.sender} has ${senderLevel}`);
  // 8
  if (event.state_key?.startsWith('@') && event.state_key !== event.sender) return reject('A state key that is a user ID must be the sender');
  // 9
  if (event.type === 'm.room.power_levels') return authorizePowerLevels(event, lookup(state, 'm.room.power_levels', ''), senderLevel);
  return ALLOW;
}

function authorizeMember(
  ctx: AuthContext,
  event: RoomEvent,
  state: StateEvents,
  create: RoomEvent,
  pl: PowerLevels,
  membershipOf: (userId: string) => string,
): AuthResult {
  const target = event.state_key;
  const membership = event.content['membership'];
  // 4.1
  if (target === undefined || typeof membership !== 'string') return reject('A membership event needs a state_key and content.membership');
  // 4.2
  const via = event.content['join_authorised_via_users_server'];
  if (via !== undefined && (typeof via !== 'string' || !ctx.signedBy(event, domainOf(via)))) {
    return reject('join_authorised_via_users_server is not backed by a signature of that user\'s server');
  }
  const senderLevel = pl.userLevel(event.sender);
  const targetLevel = pl.userLevel(target);
  const joinRule = lookup(state, 'm.room.join_rules', '')?.content['join_rule'];
  const targetMembership = membershipOf(target);
  switch (membership) {
    case 'join': {
      // 4.3.1: the creator's own first join, right after the create event.
      if (event.prev_events.length === 1 && event.prev_events[0] === create.event_id && target === creatorOf(ctx.roomVersion, create)) return ALLOW;
      if (event.sender !== target) return reject('Only the user themself can join');
      if (targetMembership === 'ban') return reject(`${target} is banned`);
      if (joinRule === 'invite' || joinRule === 'knock') {
        return targetMembership === 'invite' || targetMembership === 'join' ? ALLOW : reject(`${target} is not invited`);
      }
      if (joinRule === 'restricted' || joinRule === 'knock_restricted') {
        if (targetMembership === 'join' || targetMembership === 'invite') return ALLOW;
        if (typeof via !== 'string' || membershipOf(via) !== 'join' || pl.userLevel(via) < pl.invite) {
          return reject('A restricted join must be authorised by a joined member who may invite');
        }
        return ALLOW;
      }
      return joinRule === 'public' ? ALLOW : reject('The room is not public and the user is not invited');
    }
    case 'invite': {
      const tpi = event.content['third_party_invite'];
      if (tpi !== undefined) return authorizeThirdPartyInvite(event, tpi, state, targetMembership);
      if (membershipOf(event.sender) !== 'join') return reject(`${event.sender} is not in the room`);
      if (targetMembership === 'join' || targetMembership === 'ban') return reject(`${target} is ${targetMembership === 'join' ? 'already in the room' : 'banned'}`);
      return senderLevel >= pl.invite ? ALLOW : reject(`Inviting needs power level ${pl.invite}; ${event.sender} has ${senderLevel}`);
    }
    case 'leave': {
      if (event.sender === target) {
        return ['invite', 'join', 'knock'].includes(targetMembership) ? ALLOW : reject(`${target} cannot leave from ${targetMembership}`);
      }
      if (membershipOf(event.sender) !== 'join') return reject(`${event.sender} is not in the room`);
      if (targetMembership === 'ban' && senderLevel < pl.ban) return reject(`Unbanning needs power level ${pl.ban}`);
      if (senderLevel >= pl.kick && targetLevel < senderLevel) return ALLOW;
      return reject(`Kicking needs power level ${pl.kick} and more than the target's ${targetLevel}`);
    }
    case 'ban': {
      if (membershipOf(event.sender) !== 'join') return reject(`${event.sender} is not in the room`);
      if (senderLevel >= pl.ban && targetLevel < senderLevel) return ALLOW;
      return reject(`Banning needs power level ${pl.ban} and more than the target's ${targetLevel}`);
    }
    case 'knock': {
      if (joinRule !== 'knock' && joinRule !== 'knock_restricted') return reject('The room does not allow knocking');
      if (event.sender !== target) return reject('Only the user themself can knock');
      return ['ban', 'invite', 'join'].includes(targetMembership) ? reject(`${target} cannot knock from ${targetMembership}`) : ALLOW;
    }
    default:
      return reject(`Unknown membership ${JSON.stringify(membership)}`);
  }
}

/** 4.4.1: an invite that redeems a third-party invite: the identity server's signature decides. */
function authorizeThirdPartyInvite(event: RoomEvent, tpi: unknown, state: StateEvents, targetMembership: string): AuthResult {
  if (targetMembership === 'ban') return reject(`${event.state_key} is banned`);
  const signed = isObject(tpi) ? tpi['signed'] : undefined;
  if (!isObject(signed)) return reject('third_party_invite has no signed part');
  const { mxid, token } = signed;
  if (typeof mxid !== 'string' || typeof token !== 'string') return reject('third_party_invite.signed needs mxid and token');
  if (mxid !== event.state_key) return reject('third_party_invite.signed.mxid is not the invited user');
  const invite = lookup(state, 'm.room.third_party_invite', token);
  if (!invite) return reject('No m.room.third_party_invite with that token');
  if (invite.sender !== event.sender) return reject('Only the sender of the third-party invite can redeem it');
  const keys: string[] = [];
  if (typeof invite.content['public_key'] === 'string') keys.push(invite.content['public_key']);
  if (Array.isArray(invite.content['public_keys'])) {
    for (const k of invite.content['public_keys']) if (isObject(k) && typeof k['public_key'] === 'string') keys.push(k['public_key']);
  }
  const sigs = isObject(signed['signatures']) ? signed['signatures'] : {};
  for (const [entity, byKey] of Object.entries(sigs)) {
    for (const keyId of isObject(byKey) ? Object.keys(byKey) : []) {
      for (const text of keys) {
        const key = decodeBase64(text) ?? decodeUrlSafeBase64(text);
        if (key && verifyJsonSignature(signed, entity, keyId, key)) return ALLOW;
      }
    }
  }
  return reject('No signature in third_party_invite.signed matches the invite\'s public keys');
}

const LEVEL_KEYS = ['users_default', 'events_default', 'state_default', 'ban', 'redact', 'kick', 'invite'];

/** Rule 9: a power levels change. */
function authorizePowerLevels(event: RoomEvent, previous: RoomEvent | undefined, senderLevel: number): AuthResult {
  const next = event.content;
  // 9.1-9.3: integers only, user IDs as keys.
  for (const key of LEVEL_KEYS) if (next[key] !== undefined && !Number.isInteger(next[key])) return reject(`${key} must be an integer`);
  for (const key of ['events', 'notifications']) {
    const v = next[key];
    if (v !== undefined && (!isObject(v) || !Object.values(v).every(Number.isInteger))) return reject(`${key} must map to integers`);
  }
  const users = next['users'];
  if (users !== undefined && (!isObject(users) || !Object.entries(users).every(([u, l]) => isValidUserId(u) && Number.isInteger(l)))) {
    return reject('users must map user IDs to integers');
  }
  // 9.4
  if (!previous) return ALLOW;
  const old = previous.content;
  // 9.5
  for (const key of LEVEL_KEYS) {
    const [before, after] = [old[key], next[key]];
    if (before === after) continue;
    if (typeof before === 'number' && before > senderLevel) return reject(`Cannot change ${key} from ${before}, above the sender's ${senderLevel}`);
    if (typeof after === 'number' && after > senderLevel) return reject(`Cannot set ${key} to ${after}, above the sender's ${senderLevel}`);
  }
  // 9.6, 9.7
  for (const key of ['events', 'notifications']) {
    const [before, after] = [isObject(old[key]) ? old[key] : {}, isObject(next[key]) ? next[key] : {}];
    for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
      if (before[name] === after[name]) continue;
      if (typeof before[name] === 'number' && before[name] > senderLevel) return reject(`Cannot change ${key}.${name}, above the sender's level`);
      if (typeof after[name] === 'number' && after[name] > senderLevel) return reject(`Cannot set ${key}.${name} above the sender's level`);
    }
  }
  // 9.8, 9.9
  const [oldUsers, newUsers] = [isObject(old['users']) ? old['users'] : {}, isObject(users) ? users : {}];
  for (const user of new Set([...Object.keys(oldUsers), ...Object.keys(newUsers)])) {
    const [before, after] = [oldUsers[user], newUsers[user]];
    if (before === after) continue;
    if (user !== event.sender && typeof before === 'number' && before >= senderLevel) return reject(`Cannot change the level of ${user}, not below the sender's`);
    if (typeof after === 'number' && after > senderLevel) return reject(`Cannot give ${user} ${after}, above the sender's ${senderLevel}`);
  }
  return ALLOW;
}
