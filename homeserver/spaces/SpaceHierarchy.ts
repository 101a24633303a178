// Client GET /_matrix/client/v1/rooms/{roomId}/hierarchy (docs/homeserver.md#spaces-and-jump-to-date):
// the space's tree, depth first in the spec's child order, each room once, as far as the user may see
// it. Rooms this server is in are read from their state; others are asked of the servers their
// m.space.child names (one federation request answers for a space and its children). A page ends at
// `limit` rooms, after `remotePerPage` requests to other servers, or after `lookedAtPerPage` rooms
// looked at (most of them hidden); what is left waits in a pagination session, kept in memory for
// SESSION_MS, named by next_batch.
import { randomBytes } from 'node:crypto';
import type { EventStore } from '../events/EventStore.js';
import type { JsonObject } from '../http/RequestReader.js';
import { MatrixError } from '../MatrixError.js';
import type { RemoteSpace } from '../federation/queries/RemoteHierarchy.js';
import { childrenStateOf, roomSummaryOf, serverInRoom, userMaySee, viaOf, type ChildState } from './RoomSummary.js';

export const HIERARCHY_LIMITS = { defaultLimit: 50, maxLimit: 100, maxDepth: 50, remotePerPage: 10, lookedAtPerPage: 1000 };
const SESSION_MS = 5 * 60_000;
const MAX_SESSIONS = 1000;

export interface HierarchyRequest {
  from?: string;
  limit?: number;
  maxDepth?: number;
  suggestedOnly: boolean;
}

/** What the walk needs of federation (null: federation is off, only local rooms show). */
export interface RemoteSpaces {
  space(roomId: string, via: string[], suggestedOnly: boolean): Promise<RemoteSpace | null>;
}

interface Pending {
  roomId: string;
  via: string[];
  depth: number;
}

interface Session {
  userId: string;
  roomId: string;
  suggestedOnly: boolean;
  maxDepth: number;
  /** A stack: the next room is the last. */
  queue: Pending[];
  seen: Set<string>;
  /** Child summaries from other servers' answers: a room that is not a space needs no request of its own. */
  known: Map<string, JsonObject>;
  inaccessible: Set<string>;
  until: number;
}

type HierarchyRoom = JsonObject & { children_state: ChildState[] };

export class SpaceHierarchy {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly events: EventStore,
    private readonly serverName: string,
    private readonly remote: RemoteSpaces | null,
    private readonly now: () => number = Date.now,
  ) {}

  async page(userId: string, roomId: string, req: HierarchyRequest): Promise<{ rooms: HierarchyRoom[]; next_batch?: string }> {
    const limit = req.limit ?? HIERARCHY_LIMITS.defaultLimit;
    if (!Number.isInteger(limit) || limit < 1) throw new MatrixError(400, 'M_INVALID_PARAM', '"limit" must be an integer greater than zero');
    const maxDepth = req.maxDepth ?? HIERARCHY_LIMITS.maxDepth;
    if (!Number.isInteger(maxDepth) || maxDepth < 0) throw new MatrixError(400, 'M_INVALID_PARAM', '"max_depth" must be a non-negative integer');
    const session =
      req.from !== undefined
        ? this.resume(req.from, userId, roomId, req.suggestedOnly, maxDepth, req.maxDepth !== undefined)
        : this.start(userId, roomId, req.suggestedOnly, maxDepth);
    const rooms: HierarchyRoom[] = [];
    let asked = 0;
    let lookedAt = 0;
    while (session.queue.length > 0 && rooms.length < Math.min(limit, HIERARCHY_LIMITS.maxLimit) && lookedAt++ < HIERARCHY_LIMITS.lookedAtPerPage) {
      const next = session.queue.pop()!;
      if (session.seen.has(next.roomId) || session.inaccessible.has(next.roomId)) continue;
      const local = serverInRoom(this.events, this.serverName, next.roomId);
      const needsRequest = !local && !this.knownNonSpace(session, next.roomId) && this.remote !== null;
      if (needsRequest && asked >= HIERARCHY_LIMITS.remotePerPage) {
        session.queue.push(next);
        break;
      }
      if (needsRequest) asked++;
      session.seen.add(next.roomId);
      const room = local ? this.localRoom(next.roomId, session.suggestedOnly) : await this.remoteRoom(session, next);
      if (!room || !userMaySee(this.events, userId, room)) continue;
      rooms.push(room);
      if (next.depth >= session.maxDepth) continue;
      for (const child of [...room.children_state].reverse()) {
        if (!session.seen.has(child.state_key)) session.queue.push({ roomId: child.state_key, via: viaOf(child), depth: next.depth + 1 });
      }
    }
    if (session.queue.every((p) => session.seen.has(p.roomId))) return { rooms };
    return { rooms, next_batch: this.save(session) };
  }

  private start(userId: string, roomId: string, suggestedOnly: boolean, maxDepth: number): Session {
    const root = roomSummaryOf(this.events, roomId);
    if (!root || !userMaySee(this.events, userId, root)) throw new MatrixError(403, 'M_FORBIDDEN', `You may not see room ${roomId}`);
    const depth = Math.min(maxDepth, HIERARCHY_LIMITS.maxDepth);
    const queue = [{ roomId, via: [], depth: 0 }];
    return { userId, roomId, suggestedOnly, maxDepth: depth, queue, seen: new Set(), known: new Map(), inaccessible: new Set(), until: 0 };
  }

  private resume(token: string, userId: string, roomId: string, suggestedOnly: boolean, maxDepth: number, depthGiven: boolean): Session {
    const session = this.sessions.get(token);
    if (!session || session.until < this.now() || session.userId !== userId || session.roomId !== roomId) {
      throw new MatrixError(400, 'M_INVALID_PARAM', 'Unknown or expired "from" token');
    }
    if (session.suggestedOnly !== suggestedOnly || (depthGiven && Math.min(maxDepth, HIERARCHY_LIMITS.maxDepth) !== session.maxDepth)) {
      throw new MatrixError(400, 'M_INVALID_PARAM', 'suggested_only and max_depth cannot change on paginated requests');
    }
    this.sessions.delete(token);
    return session;
  }

  private save(session: Session): string {
    const now = this.now();
    for (const [token, s] of this.sessions) if (s.until < now) this.sessions.delete(token);
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value as string);
    const token = randomBytes(12).toString('base64url');
    this.sessions.set(token, { ...session, until: now + SESSION_MS });
    return token;
  }

  private knownNonSpace(session: Session, roomId: string): boolean {
    const known = session.known.get(roomId);
    return known !== undefined && known['room_type'] !== 'm.space';
  }

  private localRoom(roomId: string, suggestedOnly: boolean): HierarchyRoom | null {
    const summary = roomSummaryOf(this.events, roomId);
    return summary ? { ...summary, children_state: childrenStateOf(this.events, roomId, suggestedOnly) } : null;
  }

  private async remoteRoom(session: Session, pending: Pending): Promise<HierarchyRoom | null> {
    const known = session.known.get(pending.roomId);
    if (known && known['room_type'] !== 'm.space') return { ...known, children_state: [] };
    if (!this.remote) return null;
    const space = await this.remote.space(pending.roomId, pending.via, session.suggestedOnly);
    if (!space) return null;
    // What a server says of rooms counts only for the children of the space it answered for.
    const ownChildren = new Set(space.room.children_state.map((c) => c.state_key));
    for (const child of space.children) {
      const id = child['room_id'] as string;
      if (ownChildren.has(id) && !session.known.has(id)) session.known.set(id, child);
    }
    for (const id of space.inaccessible) if (ownChildren.has(id)) session.inaccessible.add(id);
    return space.room;
  }
}
