// The Redis `patchbay start` runs for itself when redis.url is null: redis-server on a unix socket under
// <data_dir>/redis, with an append-only file so queued events survive a crash.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ManagedRedis } from '../core/redis/ManagedRedis.js';

export async function startManagedRedis(dataDir: string, logger: Logger): Promise<ManagedRedis> {
  const redis = new ManagedRedis({ dir: join(dataDir, 'redis'), appendOnly: true });
  await shutDownStrayRedis(redis.socketPath, logger);
  await redis.start();
  logger.info({ socket: redis.socketPath, pid: redis.pid }, 'managed Redis started (append-only file on)');
  return redis;
}

/**
 * A redis-server outlives a `patchbay start` killed with SIGKILL. Starting a second one on the same
 * append-only file would corrupt it, so the stray one is asked to SHUTDOWN (it writes its AOF and exits).
 * Only called once this process holds the data_dir lock, so the stray one belongs to no live start.
 */
async function shutDownStrayRedis(socketPath: string, logger: Logger): Promise<void> {
  if (!existsSync(socketPath)) return;
  const client = new Redis({ path: socketPath, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch {
    client.disconnect();
    return; // a socket file with nobody behind it
  }
  logger.warn({ socket: socketPath }, 'a Redis left running by an earlier patchbay start is being shut down (its data stays in the append-only file)');
  await client.shutdown().catch(() => undefined);
  client.disconnect();
  for (let i = 0; i < 200 && (await answers(socketPath)); i++) await sleep(50);
}

async function answers(socketPath: string): Promise<boolean> {
  if (!existsSync(socketPath)) return false;
  const client = new Redis({ path: socketPath, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}
