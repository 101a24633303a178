import { afterAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ManagedRedis, RedisBinaryMissingError } from '../../core/redis/ManagedRedis.js';

describe('ManagedRedis', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-redis-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps data in its append-only file across a kill -9 and a restart', async () => {
    const redis = new ManagedRedis({ dir });
    await redis.start();
    const client = new Redis(redis.connection);
    await client.set('k', 'v');
    // appendfsync everysec: give the fsync a moment, as a crash test would after its writes.
    await new Promise((r) => setTimeout(r, 1_200));
    await client.quit();
    await redis.kill();
    await redis.start();
    const again = new Redis(redis.connection);
    expect(await again.get('k')).toBe('v');
    await again.quit();
    await redis.stop();
    expect(redis.pid).toBeUndefined();
  });

  it('a run killed with kill -9 leaves its redis-server running (own process group); the next start ends it first and keeps its data', async () => {
    const orphanDir = join(dir, 'orphan');
    const killedRun = new ManagedRedis({ dir: orphanDir });
    await killedRun.start();
    const orphanPid = killedRun.pid as number;
    const client = new Redis(killedRun.connection);
    await client.set('written', 'before the crash');
    await client.quit();
    // The killed run never stops it: a new process (a new ManagedRedis) starts on the same folder.
    const next = new ManagedRedis({ dir: orphanDir });
    await next.start();
    try {
      expect(next.pid).not.toBe(orphanPid);
      expect(existsSync(`/proc/${orphanPid}`)).toBe(false);
      const again = new Redis(next.connection);
      expect(await again.get('written')).toBe('before the crash');
      await again.quit();
    } finally {
      await next.stop();
    }
  });

  it('names the install command when redis-server is missing', async () => {
    const redis = new ManagedRedis({ dir, binary: '/nonexistent/redis-server' });
    await expect(redis.start()).rejects.toThrow(RedisBinaryMissingError);
    await expect(redis.start()).rejects.toThrow(/apt-get install -y redis-server/);
  });
});
