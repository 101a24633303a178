import { Redis, type RedisOptions } from 'ioredis';

/** A Redis URL (`redis://…`) or ioredis options (`{ path }` for the managed Redis's unix socket …). */
export type RedisConnection = string | RedisOptions;

// Reconnect quickly after a Redis restart; callers retry their own work meanwhile.
const retryStrategy = (times: number): number => Math.min(50 * times, 1_000);

/** A new client for the runtime; `overrides` (e.g. BullMQ's `maxRetriesPerRequest: null`) win. */
export function openRedis(connection: RedisConnection, overrides: RedisOptions = {}): Redis {
  const options: RedisOptions = { retryStrategy, ...overrides };
  return typeof connection === 'string' ? new Redis(connection, options) : new Redis({ ...connection, ...options });
}
