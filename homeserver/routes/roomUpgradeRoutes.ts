// POST /rooms/{roomId}/upgrade: replaces a room by a new one of another room version (see RoomUpgrader).
import type { HomeserverContext } from '../HomeserverContext.js';
import { body, requesterOf, roomIdParam } from '../http/RequestReader.js';
import type { RouteTable } from '../http/RouteTable.js';

export function roomUpgradeRoutes(r: RouteTable, hs: HomeserverContext): void {
  r.post('/rooms/:roomId/upgrade', hs.auth.required, async (req, res) => {
    const me = requesterOf(res);
    const roomId = roomIdParam(req);
    const { replacementRoom, remoteInvitees } = hs.upgrader.upgrade(me, roomId, body(req).string('new_version'));
    hs.logger.info({ room_id: roomId, replacement_room: replacementRoom, user_id: me.userId }, 'room upgraded');
    // Members of other servers are invited through their servers (invite v2), after the replacement exists.
    for (const target of hs.remoteMembership ? remoteInvitees : []) {
      try {
        await hs.remoteMembership!.invite(me.userId, replacementRoom, target, hs.memberships.memberContent(target, 'invite'));
      } catch (err) {
        // The upgrade is done: failing the request now would hide the new room. The member can be invited again.
        hs.logger.warn({ err, room_id: replacementRoom, user_id: target }, 'room upgrade: the invite of a user on another server failed');
      }
    }
    res.json({ replacement_room: replacementRoom });
  });
}
