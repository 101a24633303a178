import { LRUCache } from 'lru-cache';
import type { GhostProfile } from '../plugin-api/index.js';

export interface IntentCacheSizes {
  registeredUsers: number;
  /** Rooms per user whose membership is known (one entry per user). */
  joinedRooms: number;
  profiles: number;
}

export const DEFAULT_CACHE_SIZES: IntentCacheSizes = { registeredUsers: 10_000, joinedRooms: 10_000, profiles: 10_000 };

/**
 * What the intents know about the homeserver, bounded so a large network cannot grow memory without
 * limit (pain point 6). Nothing here is authoritative: a miss is filled from the homeserver (joined_rooms,
 * profile), never guessed, and a "not in room" answer drops the entry (pain point 8).
 */
export class IntentCaches {
  /** Users known to exist. */
  readonly registered: LRUCache<string, true>;
  /** Per user: the rooms it is joined to, as of the last joined_rooms call plus our own joins since. */
  readonly joined: LRUCache<string, Set<string>>;
  /** Per user: the global profile as the homeserver last reported or we last set it. */
  readonly profiles: LRUCache<string, GhostProfile>;
  /** In-flight registrations and joins, so concurrent first uses share one request. */
  readonly registering = new Map<string, Promise<void>>();
  readonly joining = new Map<string, Promise<void>>();

  constructor(sizes: Partial<IntentCacheSizes> = {}) {
    const s = { ...DEFAULT_CACHE_SIZES, ...sizes };
    this.registered = new LRUCache({ max: s.registeredUsers });
    this.joined = new LRUCache({ max: s.joinedRooms });
    this.profiles = new LRUCache({ max: s.profiles });
  }

  /** Whether the user is known joined to the room: true/false from a filled entry, undefined on a miss. */
  isJoined(userId: string, roomId: string): boolean | undefined {
    return this.joined.get(userId)?.has(roomId);
  }

  markJoined(userId: string, roomId: string): void {
    const rooms = this.joined.get(userId);
    if (rooms) rooms.add(roomId);
    // With no entry we only learned one room: leave the miss so the next question asks the server.
  }

  markLeft(userId: string, roomId: string): void {
    this.joined.get(userId)?.delete(roomId);
  }
}
