// The end of a local user's knock or invite on a room this server is not in, as the room's server sends
// it: a kick or ban of the knocker or invitee (knock turned away, invite withdrawn). Without the room's
// state it cannot be checked against the auth rules; it must be an m.room.member leave or ban of a local
// user whose membership here is knock or invite, sent by a user of the origin server and signed by that
// server. It is stored as the user's membership (as the invite or knock was), so /sync shows the room as
// left; it is sent nowhere.
import type { HomeserverContext } from '../../HomeserverContext.js';
import type { RoomVersion } from '../../rooms/RoomVersions.js';
import { domainOf } from '../eventauth/RoomState.js';
import type { Federation } from '../Federation.js';
import { checkEventSignatures } from '../pdu/EventSigning.js';
import type { RoomEvent } from '../eventauth/RoomState.js';
import type { Pdu } from '../pdu/Pdu.js';

/** Whether the PDU is such an end of a knock or invite; null when it is not one (the caller refuses it as usual). */
export async function receiveOutOfBandMembership(
  hs: HomeserverContext,
  fed: Federation,
  origin: string,
  version: RoomVersion,
  ev: RoomEvent,
  raw: unknown,
): Promise<{ error?: string } | null> {
  const target = ev.state_key;
  const membership = ev.content['membership'];
  if (ev.type !== 'm.room.member' || target === undefined || (membership !== 'leave' && membership !== 'ban')) return null;
  if (domainOf(target) !== hs.serverName || domainOf(ev.sender) !== origin) return null;
  const current = hs.events.membership(ev.room_id, target)?.membership;
  if (current !== 'knock' && current !== 'invite') return null;
  const sig = await checkEventSignatures(version, raw as Record<string, unknown>, (s, k, ts) => fed.remoteKeys.verifyKey(s, k, ts));
  if (sig.outcome !== 'valid') return { error: sig.outcome === 'bad_signature' ? sig.reason : 'The content hash of the event does not match' };
  const room = hs.events.room(ev.room_id)!;
  const { unsigned: _unsigned, ...pdu } = raw as Pdu;
  hs.events.write(() => {
    hs.events.storeInvite({ roomId: ev.room_id, version, creator: room.creator }, { eventId: ev.event_id, pdu: pdu as Pdu });
  });
  hs.logger.info({ roomId: ev.room_id, eventId: ev.event_id, origin, userId: target, was: current }, `federation: ${current} ended by the room's server`);
  return {};
}
