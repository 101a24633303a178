import { randomUUID } from 'node:crypto';
import { Job, Queue, type IRedisTransaction, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { PartitionDepth } from '../metrics/PipelineMetrics.js';
import { requeueActiveJobs } from '../partitioning/JobTakeover.js';
import { settlePartitionCount } from '../partitioning/PartitionCount.js';
import type { PartitionSlice } from './PartitionSlice.js';
import type { PipelineKeys } from './PipelineKeys.js';
import { RedisErrorLog } from './RedisErrorLog.js';

export interface PartitionQueuesOptions {
  /** A shared non-blocking connection (the ingest connection: fails fast when Redis is down). */
  connection: Redis;
  keys: PipelineKeys;
  partitions: number;
  logger: Logger;
  /** Approximate length of each queue's BullMQ event stream (nothing here reads it; keep it small). */
  eventStreamMaxLen?: number;
}

/** Adds more commands to the MULTI that queues a transaction's slices (they commit together). */
export type EnqueueExtension = (tx: IRedisTransaction, jobKeys: string[]) => void;

// attempts 1: retries happen inside the processor, so a later job never overtakes a failing one.
const JOB_OPTIONS: JobsOptions = { removeOnComplete: true, removeOnFail: false, attempts: 1 };

/**
 * The N ordered partition queues (BullMQ, one per `hash(room) mod N`), each with global concurrency 1 so
 * exactly one worker in any process runs a partition's jobs at a time. Enqueueing a transaction is one
 * MULTI over all its partition-slices (BullMQ's own add script per slice, via Job.addJob), so a
 * transaction is queued whole or not at all, in one round trip.
 */
export class PartitionQueues {
  readonly queues: Queue<PartitionSlice>[];

  constructor(private readonly options: PartitionQueuesOptions) {
    const { connection, keys, partitions } = options;
    const streams = { events: { maxLen: options.eventStreamMaxLen ?? 100 } };
    this.queues = Array.from(
      { length: partitions },
      (_, p) => new Queue(keys.queueName(p), { connection, prefix: keys.queuePrefix, streams }),
    );
    // Without listeners BullMQ prints every reconnect error to the console.
    const errors = new RedisErrorLog(options.logger, 'partition queues');
    for (const queue of this.queues) queue.on('error', (err) => errors.report(err));
  }

  get partitions(): number {
    return this.queues.length;
  }

  /**
   * Sets global concurrency 1 on every partition queue (idempotent) and checks the partition count
   * against the one stored in Redis.
   */
  async prepare(): Promise<void> {
    const { connection, keys } = this.options;
    await settlePartitionCount({
      connection,
      countKey: keys.partitionCount,
      prefix: keys.queuePrefix,
      queueName: (p) => keys.queueName(p),
      partitions: this.partitions,
      setting: 'host.partitions',
    });
    await Promise.all(this.queues.map((q) => q.setGlobalConcurrency(1)));
  }

  /**
   * Enqueues the slices of one transaction in one MULTI (one round trip). `extend` appends commands to
   * the same MULTI and gets the Redis keys of the new jobs (TransactionIngest marks its event ids there).
   */
  async enqueue(slices: Map<number, PartitionSlice>, extend?: EnqueueExtension): Promise<void> {
    // All queues share one connection, so any queue's client carries the MULTI for all of them.
    const client = await this.queues[0]!.backend.client;
    const tx = client.multi();
    const jobKeys: string[] = [];
    for (const [partition, slice] of slices) {
      const queue = this.queues[partition]!;
      const jobId = randomUUID();
      jobKeys.push(queue.toKey(jobId));
      await new Job<PartitionSlice>(queue, 'slice', slice, JOB_OPTIONS, jobId).addJob(tx);
    }
    extend?.(tx, jobKeys);
    const results = await tx.exec();
    if (!results) throw new Error('the enqueue MULTI was aborted');
    for (const [err] of results) if (err) throw err;
  }

  /** Depth and age per partition, for the metrics and /health. */
  async depths(now = Date.now()): Promise<PartitionDepth[]> {
    return Promise.all(
      this.queues.map(async (queue, partition) => {
        const counts = await queue.getJobCounts('waiting', 'active', 'failed', 'prioritized', 'delayed');
        const waiting = (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0);
        const active = counts.active ?? 0;
        let oldestAgeMs = 0;
        if (waiting + active > 0) {
          // The oldest unfinished job is the active one, else the next waiting one.
          const [job] = active > 0 ? await queue.getActive(0, 0) : await queue.getWaiting(0, 0);
          if (job) oldestAgeMs = Math.max(0, now - ((job.data as PartitionSlice).enqueuedAt ?? job.timestamp));
        }
        return { partition, waiting, active, failed: counts.failed ?? 0, oldestAgeMs };
      }),
    );
  }

  /**
   * Puts every active job back at the head of its queue (moveToWait with BullMQ's "no lock" token), for
   * a start that knows their workers are dead. Returns how many moved.
   */
  requeueActive(): Promise<number> {
    return requeueActiveJobs(this.queues);
  }

  /** Worker processes connected to each partition queue (BullMQ names its worker connections). */
  workerCounts(): Promise<number[]> {
    return Promise.all(this.queues.map((q) => q.getWorkersCount()));
  }

  async close(): Promise<void> {
    await Promise.all(this.queues.map((q) => q.close()));
  }
}
