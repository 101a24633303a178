import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

// Deletes the lock only if it still holds this owner's token: a lock that expired and was taken by
// another process is not released by the first.
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** A lock in Redis held by one owner until it is released or `ttlMs` passes (`SET NX PX` with a token). */
export class RedisLock {
  private constructor(
    private readonly redis: Redis,
    readonly key: string,
    private readonly token: string,
  ) {}

  /** The lock, or null when another owner holds it. */
  static async tryAcquire(redis: Redis, key: string, ttlMs: number): Promise<RedisLock | null> {
    const token = randomUUID();
    const reply = await redis.set(key, token, 'PX', ttlMs, 'NX');
    return reply === 'OK' ? new RedisLock(redis, key, token) : null;
  }

  async release(): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key, this.token);
  }
}
