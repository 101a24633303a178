// Redis key names of the plugin runtime. Everything sits under `patchbay:<appservice id>:` (as the event
// pipeline's keys do) so two appservices can share one Redis. Every key of a bridge carries the bridge
// name as a hash tag (`{name}`), so a bridge's keys share one Redis Cluster slot and its multi-key scripts
// stay legal there.

export class BridgeKeyspace {
  readonly root: string;

  constructor(
    readonly bridge: string,
    runtimeRoot: string,
  ) {
    if (!/^[A-Za-z0-9_.-]+$/.test(bridge)) {
      throw new Error(`Bridge name ${JSON.stringify(bridge)} may contain only letters, digits, '_', '.', '-'`);
    }
    this.root = `${runtimeRoot}:br:{${bridge}}`;
  }

  key(...parts: string[]): string {
    return [this.root, ...parts].join(':');
  }
}

/** The runtime's key names for one appservice. */
export class RuntimeKeys {
  readonly root: string;

  constructor(appserviceId: string, namespace = 'patchbay') {
    this.root = `${namespace}:${appserviceId}`;
  }

  bridge(name: string): BridgeKeyspace {
    return new BridgeKeyspace(name, this.root);
  }

  /** BullMQ prefix of the outbox partition queues (named `o0`..`o<N-1>`). */
  get outboxQueuePrefix(): string {
    return `${this.root}:ob`;
  }

  outboxQueueName(partition: number): string {
    return `o${partition}`;
  }

  /** The partition count the outbox queues were made with (a change re-maps rooms). */
  get outboxPartitionCount(): string {
    return `${this.root}:ob:partitions`;
  }

  /** What became of one outbox message (JSON), kept for the result TTL. */
  outboxResult(txnId: string): string {
    return `${this.root}:ob:result:${txnId}`;
  }

  /** Pub/sub channel on which workers announce finished outbox messages (the txnId). */
  get outboxDone(): string {
    return `${this.root}:ob:done`;
  }

  /** List of dead-lettered outbox messages (JSON), newest first. */
  get outboxDeadLetters(): string {
    return `${this.root}:ob:dead`;
  }

  /** Counts this appservice's own lookups of an alias in progress (OwnAliasLookups). */
  aliasLookup(alias: string): string {
    return `${this.root}:alias-lookup:${alias}`;
  }

  /** Marks a (bridge, event) pair handled so a retried event skips the plugins that already had it. */
  handled(bridge: string, eventId: string): string {
    return `${this.bridge(bridge).root}:done:${eventId}`;
  }
}
