import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/** Raised when a partition count changed while work was still queued under the old mapping. */
export class PartitionCountChangedError extends Error {
  constructor(
    readonly stored: number,
    readonly configured: number,
    readonly pending: number,
    readonly setting = 'host.partitions',
  ) {
    super(
      `${setting} is ${configured} but the queues in Redis were made with ${stored} and still hold ` +
        `${pending} job(s); changing it now would re-map rooms and break their order. Set ${setting} ` +
        `back to ${stored}, let the workers drain the queues, then change it.`,
    );
    this.name = 'PartitionCountChangedError';
  }
}

export interface PartitionCountOptions {
  connection: Redis;
  /** Where the count the queues were made with is kept. */
  countKey: string;
  /** BullMQ prefix and name of partition p's queue. */
  prefix: string;
  queueName: (partition: number) => string;
  partitions: number;
  /** The setting the count comes from, for the error. */
  setting: string;
}

/**
 * Records the partition count a family of ordered queues is made with, and refuses a different one while
 * jobs queued under the old count wait: a room would then have work in two queues at once.
 */
export async function settlePartitionCount(options: PartitionCountOptions): Promise<void> {
  const { connection, countKey, prefix, queueName, partitions, setting } = options;
  const stored = await connection.get(countKey);
  if (stored !== null && Number(stored) !== partitions) {
    const old = Number(stored);
    let pending = 0;
    for (let p = 0; p < old; p++) {
      const queue = new Queue(queueName(p), { connection, prefix });
      queue.on('error', () => undefined);
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      pending += Object.values(counts).reduce((a, b) => a + b, 0);
      await queue.close();
    }
    if (pending > 0) throw new PartitionCountChangedError(old, partitions, pending, setting);
  }
  await connection.set(countKey, String(partitions));
}
