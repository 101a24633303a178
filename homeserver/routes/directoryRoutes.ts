// Room aliases and the public room directory, including appservices' per-network lists.
import type { Request } from 'express';
import { MatrixError } from '../MatrixError.js';
import type { Requester } from '../contracts.js';
import type { HomeserverContext } from '../HomeserverContext.js';
import { type Body, body, param, query, queryInt, requesterOf, roomIdParam } from '../http/RequestReader.js';
import type { RouteTable } from '../http/RouteTable.js';
import { isValidAlias } from '../ids/MatrixIds.js';
import { PowerLevels } from '../rooms/PowerLevels.js';
import { MAIN_LIST, type DirectoryList } from '../rooms/RoomDirectory.js';

const MAX_PUBLIC_ROOMS = 500;

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

  const publicRooms = (
    limit: number | undefined,
    since: string | undefined,
    searchTerm: string | undefined,
    roomTypes: Array<string | null> | undefined,
    list: DirectoryList | 'all',
  ): Record<string, unknown> => {
    let offset = 0;
    if (since !== undefined) {
      const m = /^o(\d{1,9})$/.exec(since);
      if (!m) throw new MatrixError(400, 'M_INVALID_PARAM', 'Invalid "since" token');
      offset = Number(m[1]);
    }
    const term = searchTerm?.toLowerCase();
    const entries = directory
      .publishedRooms(list)
      .map((roomId) => publicRoomEntry(hs, roomId))
      .filter((e): e is Record<string, unknown> => e !== null)
      .filter((e) => {
        if (!term) return true;
        return ['name', 'topic', 'canonical_alias'].some((k) => typeof e[k] === 'string' && (e[k] as string).toLowerCase().includes(term));
      })
      .filter((e) => roomTypes === undefined || roomTypes.includes((e['room_type'] as string | undefined) ?? null))
      .sort(
        (a, b) =>
          (b['num_joined_members'] as number) - (a['num_joined_members'] as number) ||
          String(a['room_id']).localeCompare(String(b['room_id'])),
      );
    const size = Math.min(limit ?? MAX_PUBLIC_ROOMS, MAX_PUBLIC_ROOMS);
    const chunk = entries.slice(offset, offset + size);
    const out: Record<string, unknown> = { chunk, total_room_count_estimate: entries.length };
    if (offset + size < entries.length) out['next_batch'] = `o${offset + size}`;
    if (offset > 0) out['prev_batch'] = `o${Math.max(0, offset - size)}`;
    return out;
  };

  const listFor = (thirdPartyInstanceId: string | undefined, includeAll: boolean): DirectoryList | 'all' => {
    if (includeAll) return 'all';
    if (thirdPartyInstanceId === undefined) return MAIN_LIST;
    const bar = thirdPartyInstanceId.indexOf('|');
    if (bar <= 0) throw new MatrixError(400, 'M_INVALID_PARAM', 'third_party_instance_id must be "<appservice id>|<network id>"');
    return { appserviceId: thirdPartyInstanceId.slice(0, bar), networkId: thirdPartyInstanceId.slice(bar + 1) };
  };

  r.get('/publicRooms', hs.auth.optional, (req, res) => {
    const server = query(req, 'server');
    if (server !== undefined && server !== hs.serverName) throw new MatrixError(404, 'M_NOT_FOUND', 'This server does not federate');
    const includeAll = query(req, 'include_all_networks') === 'true';
    res.json(publicRooms(queryInt(req, 'limit'), query(req, 'since'), undefined, undefined, listFor(query(req, 'third_party_instance_id'), includeAll)));
  });

  r.post('/publicRooms', auth, (req, res) => {
    const b = body(req);
    const server = query(req, 'server');
    if (server !== undefined && server !== hs.serverName) throw new MatrixError(404, 'M_NOT_FOUND', 'This server does not federate');
    const filter = b.optObject('filter') ?? {};
    const term = filter['generic_search_term'];
    if (term !== undefined && term !== null && typeof term !== 'string') throw new MatrixError(400, 'M_BAD_JSON', 'generic_search_term must be a string');
    const roomTypes = filter['room_types'];
    if (roomTypes !== undefined && (!Array.isArray(roomTypes) || roomTypes.some((t) => t !== null && typeof t !== 'string'))) {
      throw new MatrixError(400, 'M_BAD_JSON', 'room_types must be a list of strings or null');
    }
    const includeAll = b.optBool('include_all_networks') ?? false;
    res.json(
      publicRooms(
        b.optInt('limit'),
        b.optString('since'),
        (term as string | null | undefined) ?? undefined,
        roomTypes as Array<string | null> | undefined,
        listFor(b.optString('third_party_instance_id'), includeAll),
      ),
    );
  });
}

/** A room as the public directory shows it; null when the room is gone. */
function publicRoomEntry(hs: HomeserverContext, roomId: string): Record<string, unknown> | null {
  if (!hs.events.room(roomId)) return null;
  const state = (type: string): Record<string, unknown> | undefined => hs.events.stateEvent(roomId, type, '')?.content;
  const entry: Record<string, unknown> = {
    room_id: roomId,
    num_joined_members: hs.events.members(roomId, 'join').length,
    world_readable: state('m.room.history_visibility')?.['history_visibility'] === 'world_readable',
    guest_can_join: state('m.room.guest_access')?.['guest_access'] === 'can_join',
    join_rule: (state('m.room.join_rules')?.['join_rule'] as string | undefined) ?? 'invite',
  };
  const name = state('m.room.name')?.['name'];
  if (typeof name === 'string' && name !== '') entry['name'] = name;
  const topic = state('m.room.topic')?.['topic'];
  if (typeof topic === 'string' && topic !== '') entry['topic'] = topic;
  const alias = state('m.room.canonical_alias')?.['alias'];
  if (typeof alias === 'string') entry['canonical_alias'] = alias;
  const avatar = state('m.room.avatar')?.['url'];
  if (typeof avatar === 'string') entry['avatar_url'] = avatar;
  const roomType = state('m.room.create')?.['type'];
  if (typeof roomType === 'string') entry['room_type'] = roomType;
  return entry;
}
