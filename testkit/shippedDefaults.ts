// The homeserver limits a user gets without a config file (config/defaults.yaml), for suites that start
// the homeserver from code: tests run against the shipped limits, not a relaxed copy of them. A suite
// that floods on purpose says so with rateLimitsWith().
import { loadConfig, type RateLimitsConfig } from '../config/index.js';
import type { HomeserverOptions } from '../homeserver/contracts.js';

export type ShippedLimits = Pick<HomeserverOptions, 'trustedProxies' | 'connections' | 'rateLimits'>;

let shipped: ShippedLimits | null = null;

export function shippedHomeserverLimits(): ShippedLimits {
  if (!shipped) {
    const hs = loadConfig({ env: {} }).homeserver;
    shipped = { trustedProxies: hs.trusted_proxies, connections: hs.connections, rateLimits: hs.rate_limits };
  }
  return structuredClone(shipped);
}

/** The shipped rate limits with some replaced, e.g. `{ sends_per_user: { per_second: 1000, burst: 1000 } }`. */
export function rateLimitsWith(changes: Partial<RateLimitsConfig>): RateLimitsConfig {
  return { ...shippedHomeserverLimits().rateLimits, ...changes };
}
