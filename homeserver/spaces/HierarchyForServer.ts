// Federation GET /_matrix/federation/v1/hierarchy/{roomId} (docs/federation.md#spaces-and-jump-to-date): a
// space this server is in, for another server. No pagination: the room (with its children_state) and those
// of its children this server is in and the asking server may see; children this server is in that it may
// not are named in inaccessible_children, children this server is not in are left out. A room whose server
// ACL denies the asking server: 403; a room it may not see, or that this server is not in: 404.
import type { EventStore } from '../events/EventStore.js';
import type { JsonObject } from '../http/RequestReader.js';
import { MatrixError } from '../MatrixError.js';
import { requireRoomAllows, roomAllows } from '../federation/acl/RoomServerAcl.js';
import { childrenStateOf, roomSummaryOf, serverInRoom, serverMaySee } from './RoomSummary.js';

export function hierarchyForServer(events: EventStore, serverName: string, origin: string, roomId: string, suggestedOnly: boolean): JsonObject {
  const summary = serverInRoom(events, serverName, roomId) ? roomSummaryOf(events, roomId) : null;
  if (!summary) throw new MatrixError(404, 'M_NOT_FOUND', `Unknown room ${roomId}`);
  requireRoomAllows(events, roomId, origin);
  if (!serverMaySee(events, origin, summary)) throw new MatrixError(404, 'M_NOT_FOUND', `Unknown room ${roomId}`);
  const childrenState = childrenStateOf(events, roomId, suggestedOnly);
  const children: JsonObject[] = [];
  const inaccessible: string[] = [];
  for (const child of childrenState) {
    const childSummary = serverInRoom(events, serverName, child.state_key) ? roomSummaryOf(events, child.state_key) : null;
    if (!childSummary) continue;
    if (roomAllows(events, child.state_key, origin) && serverMaySee(events, origin, childSummary)) children.push(childSummary);
    else inaccessible.push(child.state_key);
  }
  return { room: { ...summary, children_state: childrenState }, children, inaccessible_children: inaccessible };
}
