import type { Redis } from 'ioredis';
import type { IdentityMap } from '../plugin-api/index.js';
import type { BridgeKeyspace } from '../store/BridgeKeyspace.js';

// Two hashes per protocol, forward (third-party id -> user id) and reverse, changed together in one
// script so each side stays the exact inverse of the other: re-pointing an id drops its old pairing.
const SET_PAIR = `
local oldUser = redis.call('HGET', KEYS[1], ARGV[1])
if oldUser then redis.call('HDEL', KEYS[2], oldUser) end
local oldId = redis.call('HGET', KEYS[2], ARGV[2])
if oldId then redis.call('HDEL', KEYS[1], oldId) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
return 1`;

const REMOVE_PAIR = `
local user = redis.call('HGET', KEYS[1], ARGV[1])
if user then
  redis.call('HDEL', KEYS[1], ARGV[1])
  if redis.call('HGET', KEYS[2], user) == ARGV[1] then redis.call('HDEL', KEYS[2], user) end
end
return 1`;

/** Third-party ids <-> Matrix user ids of one bridge, per protocol, in Redis hashes. */
export class RedisIdentityMap implements IdentityMap {
  constructor(
    private readonly redis: Redis,
    private readonly keyspace: BridgeKeyspace,
  ) {}

  private keys(protocol: string): [string, string] {
    return [this.keyspace.key('identity', protocol, 'by-3pid'), this.keyspace.key('identity', protocol, 'by-mxid')];
  }

  async set(protocol: string, thirdPartyId: string, userId: string): Promise<void> {
    await this.redis.eval(SET_PAIR, 2, ...this.keys(protocol), thirdPartyId, userId);
  }

  async userIdFor(protocol: string, thirdPartyId: string): Promise<string | null> {
    return this.redis.hget(this.keys(protocol)[0], thirdPartyId);
  }

  async thirdPartyIdFor(protocol: string, userId: string): Promise<string | null> {
    return this.redis.hget(this.keys(protocol)[1], userId);
  }

  async remove(protocol: string, thirdPartyId: string): Promise<void> {
    await this.redis.eval(REMOVE_PAIR, 2, ...this.keys(protocol), thirdPartyId);
  }
}
