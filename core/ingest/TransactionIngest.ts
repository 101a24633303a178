import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { PipelineMetrics } from '../metrics/PipelineMetrics.js';
import type { PartitionQueues } from '../queue/PartitionQueues.js';
import type { PartitionSlice } from '../queue/PartitionSlice.js';
import type { PipelineKeys } from '../queue/PipelineKeys.js';
import type { RoomPartitioner } from '../partitioning/RoomPartitioner.js';
import { IngestCommitScript } from './IngestCommitScript.js';
import { StoreUnavailableError } from './StoreUnavailableError.js';
import { TransactionUnstorableError } from './TransactionUnstorableError.js';
import type { IngestOutcome, TransactionSink, ValidTransaction } from './ValidTransaction.js';

export interface TransactionIngestOptions {
  /**
   * The partition queues' connection (the commit script runs in their MULTI), fail-fast: no offline
   * queue, so a down Redis turns into a 503 rather than a hanging request.
   */
  redis: Redis;
  queues: PartitionQueues;
  partitioner: RoomPartitioner;
  keys: PipelineKeys;
  metrics: PipelineMetrics;
  logger: Logger;
  /** How long txnIds are remembered (the event ids' lifetime is the ledger's). */
  ttlSeconds: number;
  /** Longest a transaction may take to store before the homeserver is told to retry. */
  timeoutMs?: number;
}

/**
 * Stores a transaction durably before it is acknowledged, in two round trips:
 *
 * 1. one MGET reads the txnId and the state of every event id: a txnId stored with the same event ids is
 *    a replay (200, nothing queued); events already queued or handled are dropped (a homeserver that
 *    restarted its txnId counter re-sends them under new ids);
 * 2. one MULTI queues the remaining events, one job per partition-slice, and in the same MULTI marks
 *    their ids queued and the txnId seen (IngestCommitScript, which checks the jobs exist first).
 *
 * The MULTI commits whole or not at all (an AOF cut mid-MULTI is discarded on load), so a crash leaves
 * either nothing (the homeserver retries) or everything. Two concurrent requests with the same events
 * may both pass step 1 and queue them twice; the worker absorbs that, as it skips event ids the ledger
 * records as handled.
 */
export class TransactionIngest implements TransactionSink {
  constructor(private readonly options: TransactionIngestOptions) {
    IngestCommitScript.define(options.redis);
  }

  async ingest(txnId: string, txn: ValidTransaction): Promise<IngestOutcome> {
    const { timeoutMs = 10_000 } = this.options;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.store(txnId, txn), timeout]);
    } catch (err: unknown) {
      // Nothing was stored either way (the enqueue MULTI commits whole or not at all).
      if (TransactionUnstorableError.isCausedBy(err)) throw new TransactionUnstorableError(err);
      throw new StoreUnavailableError(err);
    } finally {
      clearTimeout(timer);
    }
  }

  private async store(txnId: string, txn: ValidTransaction): Promise<IngestOutcome> {
    const { redis, keys, partitioner, queues, metrics, ttlSeconds, logger } = this.options;
    const fingerprint = TransactionIngest.fingerprint(txn);
    const txnKey = keys.transaction(txnId);
    const eventKeys = txn.events.map((e) => keys.event(e.event_id));
    const [storedFingerprint, ...states] = await redis.mget(txnKey, ...eventKeys);
    if (storedFingerprint === fingerprint) {
      metrics.transactionsDuplicate.inc();
      return { duplicate: true, queued: 0, duplicateEvents: txn.events.length, ephemeral: 0 };
    }
    if (storedFingerprint !== null && storedFingerprint !== undefined) {
      // Same txnId, other events: the homeserver restarted its counter. Treat it as new; event ids dedupe.
      logger.warn({ txn_id: txnId }, 'txnId seen before with other events (homeserver restarted its counter?); storing it as new');
    }

    const now = Date.now();
    const slices = new Map<number, PartitionSlice>();
    const sliceOf = (partition: number): PartitionSlice => {
      let slice = slices.get(partition);
      if (!slice) {
        slice = { txnId, enqueuedAt: now, events: [], ephemeral: [] };
        slices.set(partition, slice);
      }
      return slice;
    };
    const fresh = new Set<string>();
    let duplicateEvents = 0;
    for (let i = 0; i < txn.events.length; i++) {
      const event = txn.events[i]!;
      if (states[i] !== null || fresh.has(event.event_id)) {
        duplicateEvents++;
        continue;
      }
      fresh.add(event.event_id);
      sliceOf(partitioner.partitionOf(event.room_id)).events.push(event);
    }
    for (const ephemeral of txn.ephemeral) sliceOf(partitioner.partitionOfEphemeral(ephemeral)).ephemeral.push(ephemeral);

    const freshKeys: string[] = [];
    for (const id of fresh) freshKeys.push(keys.event(id));
    await queues.enqueue(slices, (tx, jobKeys) => IngestCommitScript.append(tx, txnKey, fingerprint, ttlSeconds, jobKeys, freshKeys));

    metrics.transactionsReceived.inc();
    if (fresh.size > 0) metrics.eventsIngested.inc({ kind: 'room' }, fresh.size);
    if (txn.ephemeral.length > 0) metrics.eventsIngested.inc({ kind: 'ephemeral' }, txn.ephemeral.length);
    if (duplicateEvents > 0) metrics.eventsDuplicate.inc({ stage: 'ingest' }, duplicateEvents);
    return { duplicate: false, queued: fresh.size, duplicateEvents, ephemeral: txn.ephemeral.length };
  }

  /**
   * Identifies a transaction's content by its event ids (not its bytes: a homeserver may re-serialise a
   * retried transaction with a different `unsigned.age`).
   */
  static fingerprint(txn: ValidTransaction): string {
    const hash = createHash('sha1');
    for (const e of txn.events) hash.update(e.event_id).update('\n');
    hash.update(`#${txn.ephemeral.length}`);
    return hash.digest('base64');
  }
}
