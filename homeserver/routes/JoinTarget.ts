// The room a client's join or knock names, and the servers to reach it through: a room ID with the
// servers given (`server_name`, `via`), or an alias. A local alias is resolved here; another server's
// alias is asked of that server (GET /_matrix/federation/v1/query/directory), whose answer names the
// servers that are in the room, tried before any given in the request.
import type { Request } from 'express';
import type { HomeserverContext } from '../HomeserverContext.js';
import { isValidAlias, isValidRoomId } from '../ids/MatrixIds.js';
import { MatrixError } from '../MatrixError.js';

export interface JoinTarget {
  roomId: string;
  servers: string[];
}

export async function joinTarget(hs: HomeserverContext, req: Request, roomIdOrAlias: string): Promise<JoinTarget> {
  const given = ['server_name', 'via'].flatMap((name) => {
    const v = req.query[name];
    return (Array.isArray(v) ? v : [v]).filter((s): s is string => typeof s === 'string');
  });
  if (isValidRoomId(roomIdOrAlias)) return { roomId: roomIdOrAlias, servers: given };
  if (!isValidAlias(roomIdOrAlias)) throw new MatrixError(400, 'M_INVALID_PARAM', `${JSON.stringify(roomIdOrAlias)} is neither a room ID nor an alias`);
  if (hs.federation && !hs.resolver.isLocal(roomIdOrAlias, '#')) {
    const found = await hs.federation.queries.roomAlias(roomIdOrAlias);
    if (!found) throw new MatrixError(404, 'M_NOT_FOUND', `Room alias ${roomIdOrAlias} not found`);
    return { roomId: found.room_id, servers: [...found.servers, ...given] };
  }
  const roomId = await hs.resolver.resolveAlias(roomIdOrAlias);
  if (!roomId) throw new MatrixError(404, 'M_NOT_FOUND', `Room alias ${roomIdOrAlias} not found`);
  return { roomId, servers: given };
}
