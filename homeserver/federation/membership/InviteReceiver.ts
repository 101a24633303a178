// invite v2 from another server: one of its users invites a user of this server. The event is checked
// (format, the inviting server's signature and content hash, a local invitee), signed by this server too
// and stored, so the invite shows in the invitee's /sync with the room state the inviting server sent
// (its entries checked: ReceivedStrippedState).
import type { HomeserverContext } from '../../HomeserverContext.js';
import { MatrixError } from '../../MatrixError.js';
import { isSupportedRoomVersion } from '../../rooms/RoomVersions.js';
import { requireRoomAllows } from '../acl/RoomServerAcl.js';
import { domainOf } from '../eventauth/RoomState.js';
import type { Federation } from '../Federation.js';
import { checkEventSignatures } from '../pdu/EventSigning.js';
import type { Pdu } from '../pdu/Pdu.js';
import { checkReceivedPdu } from '../receive/PduChecker.js';
import { parsePdu } from '../receive/PduFormat.js';
import { checkStrippedState } from './ReceivedStrippedState.js';
import { currentStateEvents } from './RoomGraph.js';
import { isJsonObject } from '../../http/RequestReader.js';


/** Checks, co-signs and stores the invite; answers `{ event }` with this server's signature added. */
export async function receiveInvite(hs: HomeserverContext, fed: Federation, origin: string, roomId: string, eventId: string, body: unknown): Promise<{ event: Pdu }> {
  // A room this server knows: its server ACL decides first (a room it only has an invite to has no state here).
  if (hs.events.room(roomId)) requireRoomAllows(hs.events, roomId, origin);
  if (!isJsonObject(body) || !isJsonObject(body['event'])) throw new MatrixError(400, 'M_BAD_JSON', 'The body must hold room_version and the event');
  const version = body['room_version'];
  if (!isSupportedRoomVersion(version)) {
    throw new MatrixError(400, 'M_INCOMPATIBLE_ROOM_VERSION', `Room version ${JSON.stringify(version)} is not supported here`, { room_version: version });
  }
  const raw = body['event'];
  const parsed = parsePdu(version, raw);
  if (!parsed.ok) throw new MatrixError(400, 'M_BAD_JSON', parsed.reason);
  const ev = parsed.event;
  if (ev.event_id !== eventId) throw new MatrixError(400, 'M_BAD_JSON', `The event's id is ${ev.event_id}, not ${eventId}`);
  if (ev.room_id !== roomId) throw new MatrixError(400, 'M_BAD_JSON', `The event is not for room ${roomId}`);
  if (ev.type !== 'm.room.member' || ev.content['membership'] !== 'invite' || ev.state_key === undefined) {
    throw new MatrixError(400, 'M_BAD_JSON', 'The event is not an invite');
  }
  if (domainOf(ev.sender) !== origin) throw new MatrixError(403, 'M_FORBIDDEN', `${ev.sender} is not a user of ${origin}`);
  if (domainOf(ev.state_key) !== hs.serverName || !(await hs.resolver.userExists(ev.state_key))) {
    throw new MatrixError(404, 'M_NOT_FOUND', `${ev.state_key} is not a user of ${hs.serverName}`);
  }
  const sig = await checkEventSignatures(version, raw, (s, k, ts) => fed.remoteKeys.verifyKey(s, k, ts));
  if (sig.outcome === 'bad_signature') throw new MatrixError(403, 'M_FORBIDDEN', sig.reason);
  if (sig.outcome === 'redacted') throw new MatrixError(400, 'M_BAD_JSON', 'The content hash of the invite does not match');

  const { unsigned: _unsigned, ...event } = raw as Pdu;
  const { pdu: signed } = hs.events.signer.sign(version, event);
  const roomState = await checkStrippedState(version, roomId, body['invite_room_state'], (s, k, ts) => fed.remoteKeys.verifyKey(s, k, ts));
  if (roomState.dropped.length > 0) hs.logger.warn({ roomId, eventId, origin, dropped: roomState.dropped }, 'federation: invite_room_state entries dropped');
  const stripped = roomState.kept;
  const creator = stripped.find((e) => e.type === 'm.room.create')?.sender ?? ev.sender;
  const inRoom = hs.events.room(roomId) !== null && hs.events.members(roomId, 'join').some((m) => domainOf(m.user_id) === hs.serverName);
  if (inRoom) {
    // This server has the room's state: the invite must pass the auth rules as any event of the room.
    const state = currentStateEvents(hs.events, roomId);
    const verdict = await checkReceivedPdu(raw, {
      roomVersion: version,
      verifyKey: (s, k, ts) => fed.remoteKeys.verifyKey(s, k, ts),
      authEvent: (id) => hs.events.pduEntry(id)?.event,
      isRejected: (id) => hs.events.pduEntry(id)?.status === 'rejected',
      stateBefore: () => state,
      currentState: () => state,
    });
    if (verdict.outcome !== 'accepted') throw new MatrixError(403, 'M_FORBIDDEN', `The invite is not allowed: ${verdict.reason}`);
  }
  hs.events.write(() => {
    if (inRoom) hs.events.storeRemote({ eventId, pdu: signed, status: 'timeline', stateBefore: hs.events.stateIds(roomId) });
    else hs.events.storeInvite({ roomId, version, creator }, { eventId, pdu: { ...signed, unsigned: { invite_room_state: stripped } } });
  });
  hs.logger.info({ roomId, eventId, origin, invitee: ev.state_key }, 'federation: invite from another server stored');
  return { event: signed };
}
