// redis.url as the clients take it. ioredis reads redis:// and rediss:// URLs itself but not unix://,
// which the config accepts for a Redis on a local socket: that becomes ioredis's `{ path }`.
import type { RedisOptions } from 'ioredis';

/** What core/ takes for a Redis: a redis(s):// URL, or ioredis options. */
export type RedisTarget = string | RedisOptions;

/** `unix:///run/redis.sock?db=2` -> `{ path: '/run/redis.sock', db: 2 }`; redis(s):// URLs pass through. */
export function redisConnectionFor(url: string): RedisTarget {
  if (!url.startsWith('unix:')) return url;
  const parsed = new URL(url);
  const options: RedisOptions = { path: decodeURIComponent(parsed.pathname) };
  const db = parsed.searchParams.get('db');
  if (db !== null && /^\d+$/.test(db)) options.db = Number(db);
  if (parsed.password) options.password = decodeURIComponent(parsed.password);
  if (parsed.username) options.username = decodeURIComponent(parsed.username);
  return options;
}

/** The URL for logs and messages, its password hidden. */
export function describeRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
