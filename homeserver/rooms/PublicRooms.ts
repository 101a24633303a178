// One page of the public room directory (RoomDirectory's lists), as GET/POST /publicRooms show it to
// clients and /_matrix/federation/v1/publicRooms to other servers: rooms by most joined members, then
// room ID, filtered by a search term and room types, paged by an offset token `o<n>`.
import type { Request } from 'express';
import type { EventStore } from '../events/EventStore.js';
import { type Body, query, queryInt } from '../http/RequestReader.js';
import { MatrixError } from '../MatrixError.js';
import { MAIN_LIST, type DirectoryList, type RoomDirectory } from './RoomDirectory.js';

const MAX_PUBLIC_ROOMS = 500;

export interface PublicRoomsQuery {
  limit?: number;
  since?: string;
  searchTerm?: string;
  roomTypes?: Array<string | null>;
  thirdPartyInstanceId?: string;
  includeAllNetworks: boolean;
}

/** The parameters of GET /publicRooms (client or federation). */
export function publicRoomsQueryOf(req: Request): PublicRoomsQuery {
  const q: PublicRoomsQuery = { includeAllNetworks: query(req, 'include_all_networks') === 'true' };
  const limit = queryInt(req, 'limit');
  if (limit !== undefined) q.limit = limit;
  const since = query(req, 'since');
  if (since !== undefined) q.since = since;
  const instance = query(req, 'third_party_instance_id');
  if (instance !== undefined) q.thirdPartyInstanceId = instance;
  return q;
}

/** The body of POST /publicRooms (client or federation). */
export function publicRoomsQueryOfBody(b: Body): PublicRoomsQuery {
  const filter = b.optObject('filter') ?? {};
  const term = filter['generic_search_term'];
  if (term !== undefined && term !== null && typeof term !== 'string') throw new MatrixError(400, 'M_BAD_JSON', 'generic_search_term must be a string');
  const roomTypes = filter['room_types'];
  if (roomTypes !== undefined && (!Array.isArray(roomTypes) || roomTypes.some((t) => t !== null && typeof t !== 'string'))) {
    throw new MatrixError(400, 'M_BAD_JSON', 'room_types must be a list of strings or null');
  }
  const q: PublicRoomsQuery = { includeAllNetworks: b.optBool('include_all_networks') ?? false };
  const limit = b.optInt('limit');
  if (limit !== undefined) q.limit = limit;
  const since = b.optString('since');
  if (since !== undefined) q.since = since;
  if (typeof term === 'string') q.searchTerm = term;
  if (roomTypes !== undefined) q.roomTypes = roomTypes as Array<string | null>;
  const instance = b.optString('third_party_instance_id');
  if (instance !== undefined) q.thirdPartyInstanceId = instance;
  return q;
}

function listFor(q: PublicRoomsQuery): DirectoryList | 'all' {
  if (q.includeAllNetworks) return 'all';
  if (q.thirdPartyInstanceId === undefined) return MAIN_LIST;
  const bar = q.thirdPartyInstanceId.indexOf('|');
  if (bar <= 0) throw new MatrixError(400, 'M_INVALID_PARAM', 'third_party_instance_id must be "<appservice id>|<network id>"');
  return { appserviceId: q.thirdPartyInstanceId.slice(0, bar), networkId: q.thirdPartyInstanceId.slice(bar + 1) };
}

export class PublicRooms {
  constructor(
    private readonly events: EventStore,
    private readonly directory: RoomDirectory,
  ) {}

  page(q: PublicRoomsQuery): Record<string, unknown> {
    let offset = 0;
    if (q.since !== undefined) {
      const m = /^o(\d{1,9})$/.exec(q.since);
      if (!m) throw new MatrixError(400, 'M_INVALID_PARAM', 'Invalid "since" token');
      offset = Number(m[1]);
    }
    const term = q.searchTerm?.toLowerCase();
    const roomTypes = q.roomTypes;
    const entries = this.directory
      .publishedRooms(listFor(q))
      .map((roomId) => this.entry(roomId))
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
    const size = Math.min(q.limit ?? MAX_PUBLIC_ROOMS, MAX_PUBLIC_ROOMS);
    const chunk = entries.slice(offset, offset + size);
    const out: Record<string, unknown> = { chunk, total_room_count_estimate: entries.length };
    if (offset + size < entries.length) out['next_batch'] = `o${offset + size}`;
    if (offset > 0) out['prev_batch'] = `o${Math.max(0, offset - size)}`;
    return out;
  }

  /** A room as the public directory shows it; null when the room is gone. */
  private entry(roomId: string): Record<string, unknown> | null {
    const { events } = this;
    if (!events.room(roomId)) return null;
    const state = (type: string): Record<string, unknown> | undefined => events.stateEvent(roomId, type, '')?.content;
    const entry: Record<string, unknown> = {
      room_id: roomId,
      num_joined_members: events.members(roomId, 'join').length,
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
}
