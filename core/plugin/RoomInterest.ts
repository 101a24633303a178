import type { Redis } from 'ioredis';
import type { MembershipListener } from '../matrix/MatrixIntent.js';
import type { BridgeKeyspace } from '../store/BridgeKeyspace.js';
import type { RedisRoomLinks } from '../links/RedisRoomLinks.js';

/**
 * Which rooms concern one bridge: rooms it has links in, and rooms where its ghosts or its bot are joined
 * or invited (a Redis set of those members per room). Kept in Redis, not memory, so every worker process
 * routes alike and a restart forgets nothing. Membership events keep it current; joins made through the
 * bridge's own intents are recorded at once, so the next event of that room already routes.
 */
export class RoomInterest implements MembershipListener {
  private readonly membersRoot: string;

  constructor(
    private readonly redis: Redis,
    keyspace: BridgeKeyspace,
    private readonly links: RedisRoomLinks,
  ) {
    this.membersRoot = keyspace.key('members', '');
  }

  async concerns(roomId: string): Promise<boolean> {
    return (await this.redis.exists(this.links.roomKey(roomId), this.membersRoot + roomId)) > 0;
  }

  /** The bridge's users (ghosts, bot) recorded in a room. */
  async members(roomId: string): Promise<string[]> {
    return this.redis.smembers(this.membersRoot + roomId);
  }

  async joined(userId: string, roomId: string): Promise<void> {
    await this.redis.sadd(this.membersRoot + roomId, userId);
  }

  async left(userId: string, roomId: string): Promise<void> {
    await this.redis.srem(this.membersRoot + roomId, userId);
  }
}
