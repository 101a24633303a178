// The room queries another server makes of this one for its clients: a space's hierarchy
// (spaces/HierarchyForServer) and jump to date. Both need the room's server ACL to allow the origin;
// timestamp_to_event, like /event, also a joined member of the origin in the room (the event it names is
// one that server may then fetch, redacted where history visibility hides it).
import type { RequestHandler } from 'express';
import type { HomeserverContext } from '../HomeserverContext.js';
import { requireServerInRoom } from '../federation/membership/RoomReads.js';
import { param } from '../http/RequestReader.js';
import type { RouteTable } from '../http/RouteTable.js';
import { MatrixError } from '../MatrixError.js';
import { EventsByTimestamp } from '../rooms/EventsByTimestamp.js';
import { hierarchyForServer } from '../spaces/HierarchyForServer.js';
import { suggestedOnlyOf, timestampQueryOf } from './RoomQueryParams.js';

const origin = (res: { locals: Record<string, unknown> }): string => res.locals['origin'] as string;

export function federationSpaceRoutes(r: RouteTable, hs: HomeserverContext, signed: RequestHandler): void {
  const byTimestamp = new EventsByTimestamp(hs.db);
  r.get('/hierarchy/:roomId', signed, (req, res) => {
    res.json(hierarchyForServer(hs.events, hs.serverName, origin(res), param(req, 'roomId'), suggestedOnlyOf(req)));
  });
  r.get('/timestamp_to_event/:roomId', signed, (req, res) => {
    const roomId = param(req, 'roomId');
    requireServerInRoom(hs, origin(res), roomId);
    const { ts, dir } = timestampQueryOf(req);
    const found = byTimestamp.closest(roomId, ts, dir, () => true);
    if (!found) throw new MatrixError(404, 'M_NOT_FOUND', `No event found from ${ts} in the ${dir === 'f' ? 'forward' : 'backward'} direction`);
    res.json({ event_id: found.event_id, origin_server_ts: found.origin_server_ts });
  });
}
