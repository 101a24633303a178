// A space's child room this server is not in, asked of the servers its m.space.child names in `via`
// (GET /_matrix/federation/v1/hierarchy/{roomId}), in turn, each within the query timeout. The answer is
// another server's input: only the summary fields of the expected types are kept, children_state only
// as m.space.child events, and the room must be the one asked for. Answers are kept for a minute (the
// spec asks for caching), and so is "no server could say".
import type { Logger } from 'pino';
import { isJsonObject, type JsonObject } from '../../http/RequestReader.js';
import type { ChildState } from '../../spaces/RoomSummary.js';
import type { FederationClient } from '../transport/FederationClient.js';

export const HIERARCHY_CACHE_MS = 60_000;
/** Servers of one child's `via` asked at most. */
export const MAX_VIA_SERVERS = 3;
const MAX_CACHED = 1000;
const MAX_CHILDREN = 500;

export interface RemoteSpace {
  /** The room's summary with its children_state. */
  room: JsonObject & { children_state: ChildState[] };
  /** Summaries of its children the answering server knows and this server may see. */
  children: JsonObject[];
  /** Children the answering server says no one of this server can see. */
  inaccessible: string[];
}

const STRING_FIELDS = ['name', 'topic', 'canonical_alias', 'avatar_url', 'room_type', 'join_rule', 'room_version', 'encryption'];

/** The summary fields of the right types; null without a room ID or member count. */
export function summaryFrom(value: unknown): JsonObject | null {
  if (!isJsonObject(value) || typeof value['room_id'] !== 'string' || !value['room_id'].startsWith('!')) return null;
  const members = value['num_joined_members'];
  if (typeof members !== 'number' || !Number.isInteger(members) || members < 0) return null;
  const out: JsonObject = {
    room_id: value['room_id'],
    num_joined_members: members,
    world_readable: value['world_readable'] === true,
    guest_can_join: value['guest_can_join'] === true,
  };
  for (const k of STRING_FIELDS) if (typeof value[k] === 'string' && (value[k] as string).length <= 4096) out[k] = value[k];
  if (out['join_rule'] === undefined) out['join_rule'] = 'public';
  if (Array.isArray(value['allowed_room_ids'])) out['allowed_room_ids'] = value['allowed_room_ids'].filter((r): r is string => typeof r === 'string' && r.startsWith('!')).slice(0, 100);
  return out;
}

function childStateFrom(value: unknown): ChildState | null {
  if (!isJsonObject(value) || value['type'] !== 'm.space.child' || !isJsonObject(value['content'])) return null;
  const { state_key: key, sender, origin_server_ts: ts } = value;
  if (typeof key !== 'string' || !key.startsWith('!') || typeof sender !== 'string' || typeof ts !== 'number') return null;
  return { type: 'm.space.child', state_key: key, content: value['content'], sender, origin_server_ts: ts };
}

export class RemoteHierarchy {
  private readonly cache = new Map<string, { space: RemoteSpace | null; until: number }>();

  constructor(
    private readonly client: FederationClient,
    private readonly serverName: string,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** The room as the first of `via` that answers sees it; null when none could say. */
  async space(roomId: string, via: string[], suggestedOnly: boolean): Promise<RemoteSpace | null> {
    const key = `${suggestedOnly ? 's' : 'a'}${roomId}`;
    const hit = this.cache.get(key);
    if (hit && hit.until > this.now()) return hit.space;
    let space: RemoteSpace | null = null;
    for (const server of [...new Set(via)].filter((s) => s !== this.serverName).slice(0, MAX_VIA_SERVERS)) {
      try {
        const path = `/_matrix/federation/v1/hierarchy/${encodeURIComponent(roomId)}?suggested_only=${suggestedOnly}`;
        space = this.parse(roomId, await this.client.request(server, 'GET', path, undefined, { timeoutMs: this.timeoutMs }));
        if (space) break;
        this.logger.info({ roomId, server }, 'space hierarchy answer without the room asked for');
      } catch (err) {
        this.logger.info({ roomId, server, err: (err as Error).message }, 'space hierarchy request failed');
      }
    }
    this.cache.delete(key);
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, { space, until: this.now() + HIERARCHY_CACHE_MS });
    return space;
  }

  private parse(roomId: string, answer: unknown): RemoteSpace | null {
    if (!isJsonObject(answer)) return null;
    const room = summaryFrom(answer['room']);
    if (!room || room['room_id'] !== roomId) return null;
    const rawChildren = isJsonObject(answer['room']) && Array.isArray(answer['room']['children_state']) ? answer['room']['children_state'] : [];
    const childrenState = rawChildren.slice(0, MAX_CHILDREN).map(childStateFrom).filter((c): c is ChildState => c !== null);
    const children = (Array.isArray(answer['children']) ? answer['children'] : []).slice(0, MAX_CHILDREN).map(summaryFrom).filter((c): c is JsonObject => c !== null);
    const inaccessible = (Array.isArray(answer['inaccessible_children']) ? answer['inaccessible_children'] : []).filter(
      (r): r is string => typeof r === 'string' && r.startsWith('!'),
    );
    return { room: { ...room, children_state: childrenState }, children, inaccessible: inaccessible.slice(0, MAX_CHILDREN) };
  }
}
