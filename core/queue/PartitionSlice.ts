import type { MatrixEphemeralEvent, MatrixEvent } from '../plugin-api/index.js';

/**
 * One BullMQ job: the events of one transaction that fall into one partition, in transaction order.
 * Batching per partition-slice keeps Redis work per transaction, not per event.
 */
export interface PartitionSlice {
  txnId: string;
  /** Milliseconds since the epoch when the host accepted the transaction (for queue latency). */
  enqueuedAt: number;
  events: MatrixEvent[];
  ephemeral: MatrixEphemeralEvent[];
}
