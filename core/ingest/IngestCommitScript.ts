import type { Redis } from 'ioredis';
import type { IRedisTransaction } from 'bullmq';
import { EventLedger } from '../queue/EventLedger.js';

const NAME = 'patchbayIngestCommit';

// KEYS: txn key, the new jobs' keys, the event keys. ARGV: fingerprint, ttl seconds, number of job keys.
// Runs in the MULTI right after the slices' add scripts. It marks the events queued and the txnId seen
// only if every job really was stored, so a mark can never stand for an event that is not in a queue.
const LUA = `
local jobs = tonumber(ARGV[3])
for i = 2, jobs + 1 do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    return redis.error_reply('job ' .. KEYS[i] .. ' was not stored; nothing marked')
  end
end
for i = jobs + 2, #KEYS do
  redis.call('SET', KEYS[i], '${EventLedger.code('queued')}', 'EX', ARGV[2], 'NX')
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return #KEYS - jobs - 1
`;

/** The Lua script that commits a transaction's marks inside its enqueue MULTI. */
export class IngestCommitScript {
  /** Defines the script on the connection whose MULTIs will run it (the partition queues' connection). */
  static define(redis: Redis): void {
    if (typeof (redis as unknown as Record<string, unknown>)[NAME] !== 'function') {
      redis.defineCommand(NAME, { lua: LUA });
    }
  }

  static append(
    tx: IRedisTransaction,
    txnKey: string,
    fingerprint: string,
    ttlSeconds: number,
    jobKeys: string[],
    eventKeys: string[],
  ): void {
    tx.runCommand(NAME, [1 + jobKeys.length + eventKeys.length, txnKey, ...jobKeys, ...eventKeys, fingerprint, ttlSeconds, jobKeys.length]);
  }
}
