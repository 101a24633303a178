// POST /rooms/{roomId}/upgrade: replaces a room by a new one of another room version (see RoomUpgrader).
import type { HomeserverContext } from '../HomeserverContext.js';
import { body, requesterOf, roomIdParam } from '../http/RequestReader.js';
import type { RouteTable } from '../http/RouteTable.js';

export function roomUpgradeRoutes(r: RouteTable, hs: HomeserverContext): void {
  r.post('/rooms/:roomId/upgrade', hs.auth.required, (req, res) => {
    const me = requesterOf(res);
    const roomId = roomIdParam(req);
    const replacement = hs.upgrader.upgrade(me, roomId, body(req).string('new_version'));
    hs.logger.info({ room_id: roomId, replacement_room: replacement, user_id: me.userId }, 'room upgraded');
    res.json({ replacement_room: replacement });
  });
}
