import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { openRedis, type RedisConnection } from '../store/RedisConnection.js';
import type { Logger } from 'pino';
import type { RuntimeKeys } from '../store/BridgeKeyspace.js';
import { settlePartitionCount } from '../partitioning/PartitionCount.js';
import { RoomPartitioner } from '../partitioning/RoomPartitioner.js';
import { requeueActiveJobs, type JobTakeoverTiming } from '../partitioning/JobTakeover.js';
import { isOutboxResult, type OutboxJobData, type OutboxResult } from './OutboxJob.js';

export interface OutboxSettings {
  /** Ordered queues that rooms are hashed onto (host.outbox_partitions). */
  partitions: number;
  /** Tries per message before it is dead-lettered (each try already retries 5xx/429 inside the client). */
  attempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** How long a message's outcome is remembered: a replay within it is skipped outright. */
  resultTtlSeconds: number;
  /** How long `send()` waits for a worker to deliver before rejecting. */
  sendTimeoutMs: number;
  /** How soon a dead worker's message is taken over (from host.job_takeover_ms); BullMQ's defaults without it. */
  takeover?: JobTakeoverTiming;
}

/** The outbox's own defaults; its partition count is a host setting (host.outbox_partitions). */
export const DEFAULT_OUTBOX_SETTINGS: Omit<OutboxSettings, 'partitions'> = {
  attempts: 6,
  initialBackoffMs: 1_000,
  maxBackoffMs: 60_000,
  resultTtlSeconds: 7 * 24 * 3600,
  sendTimeoutMs: 300_000,
};

/** Thrown by `send()` when the message was dead-lettered or no worker delivered it in time. */
export class OutboxDeliveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboxDeliveryError';
  }
}

/**
 * The producer side of the outbox: one BullMQ queue per partition (global concurrency 1, so exactly one
 * worker drains a partition at a time and a room's messages post in order), plus result waiting for
 * `send()` over one pub/sub channel.
 *
 * Why BullMQ partitions and not a Redis stream per room: the number of rooms is unbounded, and a stream
 * per room needs its own scheduler to find rooms with work and its own claiming of a dead consumer's
 * entries. BullMQ already has both (blocking fetch, stalled-job recovery, global concurrency across
 * processes), the inbound pipeline uses the same machinery, and a fixed number of queues bounds the
 * connections and the workers. A slow room delays only the rooms that share its partition.
 */
export class OutboxQueues {
  private readonly redis: Redis;
  private readonly queues: Queue[] = [];
  private readonly partitioner: RoomPartitioner;
  private subscriber: Redis | null = null;
  private subscribed: Promise<void> | null = null;
  private readonly waiters = new Map<string, Set<(r: OutboxResult) => void>>();

  constructor(
    connection: RedisConnection,
    private readonly keys: RuntimeKeys,
    readonly settings: OutboxSettings,
    private readonly logger: Logger,
  ) {
    this.partitioner = new RoomPartitioner(settings.partitions, 'host.outbox_partitions');
    this.redis = openRedis(connection, { maxRetriesPerRequest: null, connectionName: 'patchbay-outbox' });
    for (let i = 0; i < settings.partitions; i++) {
      this.queues.push(new Queue(keys.outboxQueueName(i), { connection: this.redis, prefix: keys.outboxQueuePrefix }));
    }
  }

  /** The shared connection (results and dead letters are read through it). */
  get connection(): Redis {
    return this.redis;
  }

  async start(): Promise<void> {
    await settlePartitionCount({
      connection: this.redis,
      countKey: this.keys.outboxPartitionCount,
      prefix: this.keys.outboxQueuePrefix,
      queueName: (p) => this.keys.outboxQueueName(p),
      partitions: this.settings.partitions,
      setting: 'host.outbox_partitions',
    });
    await Promise.all(this.queues.map((q) => q.setGlobalConcurrency(1)));
  }

  /** Resolves once Redis holds the job. A job id that is still queued is not added twice. */
  async add(data: OutboxJobData): Promise<void> {
    const queue = this.queues[this.partitioner.partitionOf(data.roomId)]!;
    // Finished jobs are removed so that re-enqueueing the same remote message later reaches the worker,
    // which then finds its remembered outcome instead of posting again.
    await queue.add('m', data, { jobId: data.txnId, attempts: 1, removeOnComplete: true, removeOnFail: true });
  }

  async readResult(txnId: string): Promise<OutboxResult | null> {
    const json = await this.redis.get(this.keys.outboxResult(txnId));
    if (json === null) return null;
    const parsed: unknown = JSON.parse(json);
    return isOutboxResult(parsed) ? parsed : null;
  }

  /** The event id once a worker delivered the message; rejects when it was dead-lettered or timed out. */
  async waitForEventId(txnId: string): Promise<string> {
    await this.subscribe();
    const result = await new Promise<OutboxResult>((resolve) => {
      const settle = (r: OutboxResult): void => {
        clearTimeout(timer);
        this.waiters.get(txnId)?.delete(settle);
        if (this.waiters.get(txnId)?.size === 0) this.waiters.delete(txnId);
        resolve(r);
      };
      const timer = setTimeout(
        () => settle({ error: `no outbox worker delivered it within ${this.settings.sendTimeoutMs} ms (is a worker running?)` }),
        this.settings.sendTimeoutMs,
      );
      let set = this.waiters.get(txnId);
      if (!set) this.waiters.set(txnId, (set = new Set()));
      set.add(settle);
      // Subscribed before this read, so a result that lands in between is seen one way or the other.
      this.readResult(txnId).then(
        (r) => r && settle(r),
        (err: unknown) => this.logger.warn({ err, txnId }, 'reading an outbox result failed'),
      );
    });
    if ('eventId' in result) return result.eventId;
    throw new OutboxDeliveryError(result.error);
  }

  private async subscribe(): Promise<void> {
    if (!this.subscribed) {
      const sub = this.redis.duplicate();
      this.subscriber = sub;
      sub.on('message', (_channel: string, txnId: string) => {
        if (!this.waiters.has(txnId)) return;
        this.readResult(txnId).then(
          (r) => {
            if (r) for (const settle of [...(this.waiters.get(txnId) ?? [])]) settle(r);
          },
          (err: unknown) => this.logger.warn({ err, txnId }, 'reading an outbox result failed'),
        );
      });
      this.subscribed = sub.subscribe(this.keys.outboxDone).then(() => undefined);
    }
    return this.subscribed;
  }

  /** Puts every message being posted back at the head of its queue (their workers are known dead). Returns how many. */
  requeueActive(): Promise<number> {
    return requeueActiveJobs(this.queues);
  }

  /** Messages waiting or in progress, per partition (for metrics and tests). */
  async pendingCounts(): Promise<number[]> {
    const counts = await Promise.all(this.queues.map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'prioritized')));
    return counts.map((c) => Object.values(c).reduce((a, b) => a + b, 0));
  }

  async close(): Promise<void> {
    for (const set of this.waiters.values()) for (const settle of [...set]) settle({ error: 'the outbox is shutting down' });
    await Promise.all(this.queues.map((q) => q.close()));
    this.subscriber?.disconnect();
    await this.redis.quit().catch(() => undefined);
  }
}
