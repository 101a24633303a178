// Client-Server endpoints under /_matrix/client/v1 for finding one's way around rooms: a space's
// hierarchy (spaces/SpaceHierarchy) and jump to date (rooms/TimestampToEvent).
import type { HomeserverContext } from '../HomeserverContext.js';
import { RemoteHierarchy } from '../federation/queries/RemoteHierarchy.js';
import { RemoteTimestamp } from '../federation/queries/RemoteTimestamp.js';
import { query, queryInt, requesterOf, roomIdParam } from '../http/RequestReader.js';
import type { RouteTable } from '../http/RouteTable.js';
import { EventsByTimestamp } from '../rooms/EventsByTimestamp.js';
import { TimestampToEvent } from '../rooms/TimestampToEvent.js';
import { SpaceHierarchy } from '../spaces/SpaceHierarchy.js';
import { suggestedOnlyOf, timestampQueryOf } from './RoomQueryParams.js';

export function spaceRoutes(r: RouteTable, hs: HomeserverContext): void {
  const auth = hs.auth.required;
  const fed = hs.federation;
  const remoteSpaces = fed ? new RemoteHierarchy(fed.client, hs.serverName, fed.options.queryTimeoutMs, hs.logger) : null;
  const hierarchy = new SpaceHierarchy(hs.events, hs.serverName, remoteSpaces);
  const remoteTimes = fed ? { timestamps: new RemoteTimestamp(fed.client, fed.options.queryTimeoutMs, hs.logger), backfill: hs.roomBackfill } : null;
  const timestamps = new TimestampToEvent(hs.serverName, hs.events, hs.history, new EventsByTimestamp(hs.db), remoteTimes);

  r.get('/rooms/:roomId/hierarchy', auth, async (req, res) => {
    const from = query(req, 'from');
    const limit = queryInt(req, 'limit');
    const maxDepth = queryInt(req, 'max_depth');
    res.json(
      await hierarchy.page(requesterOf(res).userId, roomIdParam(req), {
        suggestedOnly: suggestedOnlyOf(req),
        ...(from !== undefined && { from }),
        ...(limit !== undefined && { limit }),
        ...(maxDepth !== undefined && { maxDepth }),
      }),
    );
  });

  r.get('/rooms/:roomId/timestamp_to_event', auth, async (req, res) => {
    const { ts, dir } = timestampQueryOf(req);
    res.json(await timestamps.find(requesterOf(res).userId, roomIdParam(req), ts, dir));
  });
}
