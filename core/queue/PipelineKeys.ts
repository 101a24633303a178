/**
 * Redis key names of one appservice's event pipeline, all under `patchbay:<registration id>:` so two
 * appservices can share a Redis. Ingest hosts and workers must agree on these, so they live in one place.
 */
export class PipelineKeys {
  readonly base: string;

  constructor(appserviceId: string, namespace = 'patchbay') {
    this.base = `${namespace}:${appserviceId}`;
  }

  /** BullMQ prefix of the partition queues (queue names are `p0`..`p<N-1>`). */
  get queuePrefix(): string {
    return `${this.base}:q`;
  }

  queueName(partition: number): string {
    return `p${partition}`;
  }

  /** A seen transaction: its value is the fingerprint of the event ids it carried. */
  transaction(txnId: string): string {
    return `${this.base}:txn:${txnId}`;
  }

  /** Per-event state: `q` queued, `d` handled, `x` dead-lettered (see EventLedger). */
  event(eventId: string): string {
    return `${this.base}:ev:${eventId}`;
  }

  /** Starts of an event in jobs re-run after a crash (to dead-letter an event that kills its worker). */
  crashStarts(eventId: string): string {
    return `${this.base}:starts:${eventId}`;
  }

  /** Hash: event id -> dead letter record (JSON). */
  get deadLetters(): string {
    return `${this.base}:dead`;
  }

  /** Sorted set: event id scored by the time it was dead-lettered. */
  get deadLettersByTime(): string {
    return `${this.base}:dead:time`;
  }

  /** Sorted set of live worker processes (member id scored by last heartbeat), for PartitionAssignment. */
  get workerMembers(): string {
    return `${this.base}:workers`;
  }

  /** The partition count the queues were created with (a change re-maps rooms). */
  get partitionCount(): string {
    return `${this.base}:partitions`;
  }
}
