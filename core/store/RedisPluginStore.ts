import type { Redis } from 'ioredis';
import type { PluginStore } from '../plugin-api/index.js';
import type { BridgeKeyspace } from './BridgeKeyspace.js';

/** Glob metacharacters of SCAN MATCH, escaped so a prefix matches literally. */
function globLiteral(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

// The list's id set and the list change in one script: a crash cannot leave one without the other.
const APPEND_ONCE = `
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[2])
return 1`;

/** A plugin's key-value store and append-only lists: plain Redis strings and lists under its keyspace. */
export class RedisPluginStore implements PluginStore {
  private readonly kvRoot: string;
  private readonly listRoot: string;
  private readonly listIdsRoot: string;

  constructor(
    private readonly redis: Redis,
    keyspace: BridgeKeyspace,
  ) {
    this.kvRoot = keyspace.key('kv', '');
    this.listRoot = keyspace.key('list', '');
    this.listIdsRoot = keyspace.key('list-ids', '');
  }

  async get(key: string): Promise<string | null> {
    return this.redis.get(this.kvRoot + key);
  }

  async set(key: string, value: string, ttlSeconds?: number): Promise<void> {
    if (ttlSeconds !== undefined) await this.redis.set(this.kvRoot + key, value, 'EX', positiveSeconds(ttlSeconds));
    else await this.redis.set(this.kvRoot + key, value);
  }

  async setIfAbsent(key: string, value: string, ttlSeconds?: number): Promise<boolean> {
    const reply =
      ttlSeconds !== undefined
        ? await this.redis.set(this.kvRoot + key, value, 'EX', positiveSeconds(ttlSeconds), 'NX')
        : await this.redis.set(this.kvRoot + key, value, 'NX');
    return reply === 'OK';
  }

  async delete(key: string): Promise<void> {
    await this.redis.del(this.kvRoot + key);
  }

  async keys(prefix: string): Promise<string[]> {
    const found = new Set<string>();
    const match = globLiteral(this.kvRoot + prefix) + '*';
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', match, 'COUNT', 500);
      for (const k of batch) found.add(k.slice(this.kvRoot.length));
      cursor = next;
    } while (cursor !== '0');
    return [...found].sort();
  }

  async append(list: string, value: string): Promise<number> {
    return this.redis.rpush(this.listRoot + list, value);
  }

  async appendOnce(list: string, uniqueId: string, value: string): Promise<boolean> {
    const appended = await this.redis.eval(APPEND_ONCE, 2, this.listRoot + list, this.listIdsRoot + list, uniqueId, value);
    return appended === 1;
  }

  async readList(list: string, start = 0, stop = -1): Promise<string[]> {
    return this.redis.lrange(this.listRoot + list, start, stop);
  }
}

function positiveSeconds(ttl: number): number {
  if (!Number.isFinite(ttl) || ttl < 1) throw new RangeError(`ttlSeconds must be a number >= 1, got ${ttl}`);
  return Math.ceil(ttl);
}
