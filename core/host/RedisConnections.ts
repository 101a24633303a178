import { Redis, type RedisOptions } from 'ioredis';

/** A Redis URL (`redis://…`, `rediss://…`) or ioredis options (`{ path }` for a unix socket, Sentinel …). */
export type RedisConnectionOptions = string | RedisOptions;

// Reconnect quickly after a Redis restart: the homeserver is retrying with its own backoff meanwhile.
const retryStrategy = (times: number): number => Math.min(50 * times, 1_000);

function open(connection: RedisConnectionOptions, overrides: RedisOptions): Redis {
  return typeof connection === 'string' ? new Redis(connection, overrides) : new Redis({ ...connection, ...overrides });
}

/**
 * For the ingest path, /health and /metrics: no offline queue and a command timeout, so while Redis is
 * down a transaction fails at once (503, the homeserver retries) instead of hanging in a buffer.
 */
export function openFailFastRedis(connection: RedisConnectionOptions, name: string): Redis {
  return open(connection, {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 5_000,
    retryStrategy,
    lazyConnect: true,
  });
}

/**
 * For workers: BullMQ needs `maxRetriesPerRequest: null`; commands wait out a Redis restart, so a
 * handled event's ledger mark is written once Redis is back rather than lost.
 */
export function openWorkerRedis(connection: RedisConnectionOptions, name: string): Redis {
  return open(connection, { connectionName: name, maxRetriesPerRequest: null, retryStrategy, lazyConnect: true });
}

/** Resolves once the client is connected (connecting it if nobody has yet); rejects if it ends first. */
export async function whenReady(redis: Redis): Promise<void> {
  if (redis.status === 'ready') return;
  if (redis.status === 'wait') {
    await redis.connect();
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const onReady = (): void => {
      redis.off('end', onEnd);
      resolve();
    };
    const onEnd = (): void => {
      redis.off('ready', onReady);
      reject(new Error('the Redis connection was closed before it became ready'));
    };
    redis.once('ready', onReady);
    redis.once('end', onEnd);
  });
}
