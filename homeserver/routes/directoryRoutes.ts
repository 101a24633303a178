// Room aliases and the public room directory, including appservices' per-network lists.
import type { Request } from 'express';
import { MatrixError } from '../MatrixError.js';
import type { Requester } from '../contracts.js';
import type { HomeserverContext } from '../HomeserverContext.js';
import { type Body, body, param, query, requesterOf, roomIdParam } from '../http/RequestReader.js';
import type { RouteTable } from '../http/RouteTable.js';
import { isValidAlias } from '../ids/MatrixIds.js';
import { PowerLevels } from '../rooms/PowerLevels.js';
import { PublicRooms, publicRoomsQueryOf, publicRoomsQueryOfBody } from '../rooms/PublicRooms.js';
import { MAIN_LIST, type DirectoryList } from '../rooms/RoomDirectory.js';

export function directoryRoutes(r: RouteTable, hs: HomeserverContext): void {
  const auth = hs.auth.required;
  const { directory, events } = hs;
  const gateway = hs.appservice;

  const aliasParam = (req: Request): string => {
    const alias = param(req, 'roomAlias');
    if (!isValidAlias(alias)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid room alias ${JSON.stringify(alias)}`);
    return alias;
  };

  /** Whether the user may administer the room's aliases and listing: the level for m.room.canonical_alias. */
  const isRoomAdmin = (userId: string, roomId: string): boolean => {
    const room = events.room(roomId);
    if (!room || events.membership(roomId, userId)?.membership !== 'join') return false;
    const pl = PowerLevels.of(events.liveState(roomId), room.room_version);
    return pl.userLevel(userId) >= pl.eventLevel('m.room.canonical_alias', true);
  };

  r.put('/directory/room/:roomAlias', auth, (req, res) => {
    const me = requesterOf(res);
    const alias = aliasParam(req);
    const roomId = body(req).string('room_id');
    if (!hs.resolver.isLocal(alias, '#')) throw new MatrixError(400, 'M_INVALID_PARAM', 'Aliases must be on this server');
    if (!events.room(roomId)) throw new MatrixError(404, 'M_NOT_FOUND', `Unknown room ${roomId}`);
    if (gateway.isExclusiveAlias(alias, me.appserviceId)) {
      throw new MatrixError(400, 'M_EXCLUSIVE', `Alias ${alias} is reserved by an application service`);
    }
    if (!directory.create(alias, roomId, me.userId)) throw new MatrixError(409, 'M_UNKNOWN', `Room alias ${alias} already exists`);
    res.json({});
  });

  r.get('/directory/room/:roomAlias', async (req, res) => {
    const alias = aliasParam(req);
    if (hs.federation && !hs.resolver.isLocal(alias, '#')) {
      const found = await hs.federation.queries.roomAlias(alias);
      if (!found) throw new MatrixError(404, 'M_NOT_FOUND', `Room alias ${alias} not found`);
      res.json(found);
      return;
    }
    const roomId = await hs.resolver.resolveAlias(alias);
    if (!roomId) throw new MatrixError(404, 'M_NOT_FOUND', `Room alias ${alias} not found`);
    res.json({ room_id: roomId, servers: [hs.serverName] });
  });

  r.delete('/directory/room/:roomAlias', auth, (req, res) => {
    const me = requesterOf(res);
    const alias = aliasParam(req);
    const row = directory.resolve(alias);
    if (!row) throw new MatrixError(404, 'M_NOT_FOUND', `Room alias ${alias} not found`);
    const ownedByRequestingAppservice =
      me.appserviceId !== null && gateway.isExclusiveAlias(alias, null) && !gateway.isExclusiveAlias(alias, me.appserviceId);
    if (row.creator !== me.userId && !ownedByRequestingAppservice && !isRoomAdmin(me.userId, row.room_id)) {
      throw new MatrixError(403, 'M_FORBIDDEN', 'You may not delete this alias');
    }
    directory.delete(alias);
    // The canonical alias must not keep pointing at an alias that no longer exists.
    const canonical = events.stateEvent(row.room_id, 'm.room.canonical_alias', '');
    if (canonical && canonical.content['alias'] === alias && isRoomAdmin(me.userId, row.room_id)) {
      const content = { ...canonical.content };
      delete content['alias'];
      hs.roomEvents.setState(me, row.room_id, 'm.room.canonical_alias', '', content);
    }
    res.json({});
  });

  r.get('/directory/list/room/:roomId', (req, res) => {
    const roomId = roomIdParam(req);
    if (!events.room(roomId)) throw new MatrixError(404, 'M_NOT_FOUND', `Unknown room ${roomId}`);
    res.json({ visibility: directory.isPublished(MAIN_LIST, roomId) ? 'public' : 'private' });
  });

  const visibilityOf = (b: Body): boolean => {
    const v = b.optString('visibility') ?? 'public';
    if (v !== 'public' && v !== 'private') throw new MatrixError(400, 'M_INVALID_PARAM', 'visibility must be public or private');
    return v === 'public';
  };

  r.put('/directory/list/room/:roomId', auth, (req, res) => {
    const me = requesterOf(res);
    const roomId = roomIdParam(req);
    const publish = visibilityOf(body(req));
    if (!events.room(roomId)) throw new MatrixError(404, 'M_NOT_FOUND', `Unknown room ${roomId}`);
    if (!isRoomAdmin(me.userId, roomId)) throw new MatrixError(403, 'M_FORBIDDEN', 'You may not change the directory listing of this room');
    directory.setPublished(MAIN_LIST, roomId, publish);
    res.json({});
  });

  const appserviceList = (req: Request, me: Requester): { list: DirectoryList; roomId: string } => {
    if (!me.appserviceId) throw new MatrixError(403, 'M_FORBIDDEN', 'Only application services can use this API');
    const roomId = roomIdParam(req);
    if (!events.room(roomId)) throw new MatrixError(404, 'M_NOT_FOUND', `Unknown room ${roomId}`);
    return { list: { appserviceId: me.appserviceId, networkId: param(req, 'networkId') }, roomId };
  };
  r.put('/directory/list/appservice/:networkId/:roomId', auth, (req, res) => {
    const me = requesterOf(res);
    const publish = visibilityOf(body(req));
    const { list, roomId } = appserviceList(req, me);
    directory.setPublished(list, roomId, publish);
    res.json({});
  });
  // Not in the spec, but Synapse has it and sytest uses it.
  r.delete('/directory/list/appservice/:networkId/:roomId', auth, (req, res) => {
    const { list, roomId } = appserviceList(req, requesterOf(res));
    directory.setPublished(list, roomId, false);
    res.json({});
  });

  const publicRooms = new PublicRooms(events, directory);
  /** ?server= names another server: its list, asked over federation. */
  const remoteServer = (req: Request): string | null => {
    const server = query(req, 'server');
    if (server === undefined || server === hs.serverName) return null;
    if (!hs.federation) throw new MatrixError(404, 'M_NOT_FOUND', 'This server does not federate');
    return server;
  };

  r.get('/publicRooms', hs.auth.optional, async (req, res) => {
    const remote = remoteServer(req);
    const q = publicRoomsQueryOf(req);
    if (remote !== null) {
      const params = new URLSearchParams();
      if (q.limit !== undefined) params.set('limit', String(q.limit));
      if (q.since !== undefined) params.set('since', q.since);
      if (q.includeAllNetworks) params.set('include_all_networks', 'true');
      if (q.thirdPartyInstanceId !== undefined) params.set('third_party_instance_id', q.thirdPartyInstanceId);
      res.json(await hs.federation!.queries.publicRooms(remote, { query: params }));
      return;
    }
    res.json(publicRooms.page(q));
  });

  r.post('/publicRooms', auth, async (req, res) => {
    const b = body(req);
    const remote = remoteServer(req);
    const q = publicRoomsQueryOfBody(b);
    if (remote !== null) {
      res.json(await hs.federation!.queries.publicRooms(remote, { body: b.raw }));
      return;
    }
    res.json(publicRooms.page(q));
  });
}
