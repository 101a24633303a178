import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { PipelineKeys } from './PipelineKeys.js';

const COMMAND = 'patchbayWorkerHeartbeat';
// KEYS: members zset. ARGV: member id, stale after (ms), 1 to join / 0 to leave.
// Scores are Redis's own clock, so worker machines need not agree on the time.
const LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[3] == '1' then redis.call('ZADD', KEYS[1], now, ARGV[1]) else redis.call('ZREM', KEYS[1], ARGV[1]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
return redis.call('ZRANGE', KEYS[1], 0, -1)
`;

export interface PartitionAssignmentOptions {
  redis: Redis;
  keys: PipelineKeys;
  partitions: number;
  /** How often this process says it is alive; a process silent for 3 beats is dropped. */
  heartbeatMs: number;
  /** Called with this process's share whenever it changes (and once at start). */
  onChange: (partitions: number[]) => Promise<void>;
  logger: Logger;
}

/**
 * Spreads the partitions over the live worker processes: each process heartbeats into a sorted set in
 * Redis and takes the partitions `p` with `p mod K == i`, where it is number `i` of the `K` live
 * processes (sorted by id). Without this, BullMQ hands a worker the next job of its partition as it
 * finishes one, so the first process to start would keep every busy partition and a second one would
 * add nothing.
 *
 * The share is only about throughput: order and exclusivity come from each queue's global concurrency 1,
 * so two processes briefly serving the same partition while the membership changes is harmless. A
 * process that dies without leaving stops owning its partitions after three missed heartbeats.
 */
export class PartitionAssignment {
  readonly memberId = randomUUID();
  private timer: NodeJS.Timeout | null = null;
  private current = '';
  private beating: Promise<void> = Promise.resolve();

  constructor(private readonly options: PartitionAssignmentOptions) {
    if (typeof (options.redis as unknown as Record<string, unknown>)[COMMAND] !== 'function') {
      options.redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: LUA });
    }
  }

  /** The partitions member `index` of `count` serves. */
  static share(partitions: number, index: number, count: number): number[] {
    const mine: number[] = [];
    for (let p = 0; p < partitions; p++) if (p % count === index) mine.push(p);
    return mine;
  }

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => {
      this.beating = this.beating.then(() => this.beat()).catch((err: unknown) => {
        this.options.logger.warn({ err }, 'worker heartbeat failed; keeping the current partitions');
      });
    }, this.options.heartbeatMs);
    this.timer.unref();
  }

  /** Leaves the membership so the other processes take this one's partitions at their next beat. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.beating;
    await this.call(false).catch(() => undefined);
  }

  private async beat(): Promise<void> {
    // By id, not by score: heartbeat times change every beat, the order must not.
    const members = (await this.call(true)).sort();
    const index = members.indexOf(this.memberId);
    const mine = index < 0 ? [] : PartitionAssignment.share(this.options.partitions, index, members.length);
    const signature = mine.join(',');
    if (signature === this.current) return;
    this.current = signature;
    this.options.logger.info({ partitions: mine, processes: members.length }, 'worker partitions assigned');
    await this.options.onChange(mine);
  }

  private async call(join: boolean): Promise<string[]> {
    const { redis, keys, heartbeatMs } = this.options;
    const run = (redis as unknown as Record<string, (...args: unknown[]) => Promise<string[]>>)[COMMAND]!;
    return run.call(redis, keys.workerMembers, this.memberId, heartbeatMs * 3, join ? '1' : '0');
  }
}
