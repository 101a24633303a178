// This server as the resident server of a room another server's user joins, leaves or knocks on through
// it: make_join/make_leave/make_knock hand out an unsigned member event placed in the room's graph;
// send_join/send_leave/send_knock take the signed event back, check it as any received PDU (signatures,
// hash, auth against its auth events and the current state), store it in the timeline, pass it on to the
// room's other servers and, for a join, answer with the state before it and its auth chain (for a knock,
// with the events that describe the room). A server the room's server ACL denies gets 403.
import type { HomeserverContext } from '../../HomeserverContext.js';
import { MatrixError } from '../../MatrixError.js';
import type { EventStore } from '../../events/EventStore.js';
import { isValidRoomId, isValidUserId } from '../../ids/MatrixIds.js';
import { authorizeEvent } from '../../rooms/AuthRules.js';
import { isSupportedRoomVersion, type RoomVersion } from '../../rooms/RoomVersions.js';
import { requireRoomAllows } from '../acl/RoomServerAcl.js';
import type { RoomEvent } from '../eventauth/RoomState.js';
import { domainOf, stateKeyOf } from '../eventauth/RoomState.js';
import type { Federation } from '../Federation.js';
import type { Pdu, UnsignedPdu } from '../pdu/Pdu.js';
import { checkReceivedPdu } from '../receive/PduChecker.js';
import { authChainOf, currentStateEvents, pdusOf, stateEventsOf, strippedStatePdus } from './RoomGraph.js';
import type { StateIds } from '../stateres/StateResolutionV2.js';

export type Membership = 'join' | 'leave' | 'knock';

export interface MembershipTemplate {
  room_version: RoomVersion;
  event: UnsignedPdu & { origin: string };
}

export interface AcceptedMember {
  event: RoomEvent;
  pdu: Pdu;
  /** The room's state before the event, as ids. */
  stateBefore: StateIds;
}

export interface SendJoinResponse {
  origin: string;
  members_omitted: false;
  state: Pdu[];
  auth_chain: Pdu[];
  event: Pdu;
}

function requireRoom(hs: HomeserverContext, origin: string, roomId: string): RoomVersion {
  const version = isValidRoomId(roomId) ? hs.events.room(roomId)?.room_version : undefined;
  if (version === undefined || !isSupportedRoomVersion(version)) throw new MatrixError(404, 'M_NOT_FOUND', `Unknown room ${roomId}`);
  if (!hs.events.members(roomId, 'join').some((m) => domainOf(m.user_id) === hs.serverName)) {
    throw new MatrixError(404, 'M_NOT_FOUND', `${hs.serverName} is not in room ${roomId}`);
  }
  requireRoomAllows(hs.events, roomId, origin);
  return version;
}

/** Whether the room takes part in federation: its create event does not say `m.federate: false`. */
export function federates(events: EventStore, roomId: string): boolean {
  return events.stateEvent(roomId, 'm.room.create', '')?.content['m.federate'] !== false;
}

/** make_join / make_leave: the event template, authorised against the current state (403 when it would fail). */
export function membershipTemplate(hs: HomeserverContext, origin: string, roomId: string, userId: string, membership: Membership, versions: string[]): MembershipTemplate {
  if (!isValidUserId(userId) || domainOf(userId) !== origin) throw new MatrixError(403, 'M_FORBIDDEN', `${userId} is not a user of ${origin}`);
  const version = requireRoom(hs, origin, roomId);
  if (!federates(hs.events, roomId)) throw new MatrixError(403, 'M_FORBIDDEN', `Room ${roomId} does not federate (m.federate is false)`);
  if (membership !== 'leave' && !versions.includes(version)) {
    throw new MatrixError(400, 'M_INCOMPATIBLE_ROOM_VERSION', `Room ${roomId} is of version ${version}, which ${origin} does not support`, { room_version: version });
  }
  const ev = { room_id: roomId, sender: userId, type: 'm.room.member', state_key: userId, content: { membership } };
  const current = hs.events.membership(roomId, userId)?.membership;
  if (membership === 'leave' && current !== 'join' && current !== 'invite' && current !== 'knock') {
    throw new MatrixError(403, 'M_FORBIDDEN', `${userId} is not in room ${roomId}`);
  }
  authorizeEvent(ev, hs.events.liveState(roomId), version);
  return { room_version: version, event: { ...ev, origin, origin_server_ts: Date.now(), ...hs.events.graphFields(ev) } };
}

/** send_join / send_leave: checks the signed event, stores it, sends it on; nothing is stored when a check fails. */
export async function acceptMembership(
  hs: HomeserverContext,
  fed: Federation,
  origin: string,
  roomId: string,
  eventId: string,
  raw: unknown,
  membership: Membership,
): Promise<AcceptedMember> {
  const version = requireRoom(hs, origin, roomId);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new MatrixError(400, 'M_BAD_JSON', 'The body must be the signed event');
  const body = raw as Record<string, unknown>;
  if (body['room_id'] !== roomId) throw new MatrixError(400, 'M_BAD_JSON', `The event is not for room ${roomId}`);
  if (body['type'] !== 'm.room.member') throw new MatrixError(400, 'M_BAD_JSON', 'The event is not an m.room.member event');
  const content = body['content'];
  if (typeof content !== 'object' || content === null || (content as Record<string, unknown>)['membership'] !== membership) {
    throw new MatrixError(400, 'M_BAD_JSON', `The event's membership is not ${membership}`);
  }
  if (typeof body['sender'] !== 'string' || body['state_key'] !== body['sender']) throw new MatrixError(400, 'M_BAD_JSON', 'state_key must be the sender');
  if (domainOf(body['sender']) !== origin) throw new MatrixError(403, 'M_FORBIDDEN', `${body['sender']} is not a user of ${origin}`);

  const { events } = hs;
  const known = events.pduEntry(eventId);
  if (known && known.status === 'timeline' && known.event.room_id === roomId) {
    // A repeated send_join (the answer was lost): answer again from the state as it is now.
    const stateBefore = events.stateIds(roomId);
    stateBefore.delete(stateKeyOf('m.room.member', known.event.sender));
    return { event: known.event, pdu: events.pdu(eventId)!, stateBefore };
  }
  const state = currentStateEvents(events, roomId);
  const verdict = await checkReceivedPdu(raw, {
    roomVersion: version,
    verifyKey: (server, keyId, ts) => fed.remoteKeys.verifyKey(server, keyId, ts),
    authEvent: (id) => events.pduEntry(id)?.event,
    isRejected: (id) => events.pduEntry(id)?.status === 'rejected',
    stateBefore: () => state,
    currentState: () => state,
  });
  if (verdict.outcome === 'dropped') throw new MatrixError(400, 'M_BAD_JSON', `The event was refused: ${verdict.reason}`);
  if (verdict.outcome !== 'accepted') throw new MatrixError(403, 'M_FORBIDDEN', `The event is not allowed: ${verdict.reason}`);
  if (verdict.redacted) throw new MatrixError(400, 'M_BAD_JSON', 'The content hash of the event does not match');
  if (verdict.event.event_id !== eventId) throw new MatrixError(400, 'M_BAD_JSON', `The event's id is ${verdict.event.event_id}, not ${eventId}`);

  const pdu = raw as Pdu;
  const stateBefore = events.stateIds(roomId);
  events.write(() => {
    const others = hs.federationSender?.destinations.ofRoom(roomId).filter((s) => s !== origin) ?? [];
    events.storeRemote({ eventId, pdu, status: 'timeline', stateBefore });
    // The joining server cannot reach the room's other servers yet: the resident server passes it on.
    if (others.length > 0) hs.federationSender?.enqueuePdu(pdu, eventId, others);
  });
  hs.logger.info({ roomId, eventId, origin, membership }, 'federation: remote member event accepted');
  return { event: verdict.event, pdu, stateBefore };
}

/** send_knock's answer: the room's create event and the state that describes it, as signed PDUs. */
export function sendKnockResponse(hs: HomeserverContext, roomId: string): { knock_room_state: Pdu[] } {
  return { knock_room_state: strippedStatePdus(hs.events, roomId) };
}

/** send_join's answer: the state before the join and the auth chain of that state and the join. */
export function sendJoinResponse(hs: HomeserverContext, joined: AcceptedMember): SendJoinResponse {
  const state = [...stateEventsOf(hs.events, joined.stateBefore).values()];
  return {
    origin: hs.serverName,
    members_omitted: false,
    state: pdusOf(hs.events, state),
    auth_chain: pdusOf(hs.events, authChainOf(hs.events, [...state, joined.event])),
    event: joined.pdu,
  };
}
