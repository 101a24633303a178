import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { onePerRegistry } from './onePerRegistry.js';
import type { PartitionDepth } from '../queue/PartitionQueues.js';

/** Something that can report queue depths when /metrics is scraped. */
export interface DepthSource {
  depths(): Promise<PartitionDepth[]>;
}

/**
 * The event pipeline's metrics (ingest, queues, workers), created once per registry: an ingest role
 * and a worker role composed in one process, or several hosts in one test, share them.
 */
export class PipelineMetrics {
  readonly transactionsReceived: Counter;
  readonly transactionsDuplicate: Counter;
  readonly transactionsRejected: Counter<'reason'>;
  readonly eventsIngested: Counter<'kind'>;
  readonly eventsDuplicate: Counter<'stage'>;
  readonly ingestSeconds: Histogram;
  readonly queueDepth: Gauge<'partition'>;
  readonly queueLag: Gauge<'partition'>;
  readonly deliverySeconds: Histogram;
  readonly handlerSeconds: Histogram;
  readonly handlerFailures: Counter;
  readonly deadLetters: Counter;
  readonly eventsHandled: Counter<'outcome'>;
  readonly ephemeralHandled: Counter<'outcome'>;
  readonly outageWaits: Counter<'dependency'>;
  readonly retryLaterWaits: Counter;
  readonly outagePartitions: Gauge;

  private depthSource: DepthSource | null = null;

  /** The runtime's metrics of this registry (made once per registry). */
  static for(registry: Registry): PipelineMetrics {
    return onePerRegistry(registry, PipelineMetrics);
  }

  /** The queues whose depth and lag the gauges read on each scrape. */
  watchQueues(source: DepthSource | null): void {
    this.depthSource = source;
  }

  /** Use `for(registry)`: constructing twice on one registry trips prom-client's duplicate-name check. */
  constructor(registry: Registry) {
    const registers = [registry];
    const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
    this.transactionsReceived = new Counter({
      name: 'patchbay_ingest_transactions_received_total',
      help: 'Appservice transactions accepted from the homeserver (stored, then answered 200)',
      registers,
    });
    this.transactionsDuplicate = new Counter({
      name: 'patchbay_ingest_transactions_duplicate_total',
      help: 'Transactions whose txnId was already stored with the same events (answered 200, nothing queued)',
      registers,
    });
    this.transactionsRejected = new Counter({
      name: 'patchbay_ingest_transactions_rejected_total',
      help: 'Transactions refused, by reason (missing_token, bad_token, not_json, bad_json, too_large, unavailable)',
      labelNames: ['reason'],
      registers,
    });
    this.eventsIngested = new Counter({
      name: 'patchbay_ingest_events_total',
      help: 'Events queued for the workers, by kind (room, ephemeral)',
      labelNames: ['kind'],
      registers,
    });
    this.eventsDuplicate = new Counter({
      name: 'patchbay_ingest_events_duplicate_total',
      help: 'Events skipped because their event_id was already queued or handled, by stage (ingest, worker)',
      labelNames: ['stage'],
      registers,
    });
    this.ingestSeconds = new Histogram({
      name: 'patchbay_ingest_transaction_seconds',
      help: 'Time to store a transaction durably before answering the homeserver',
      buckets: latencyBuckets,
      registers,
    });
    const metrics = this;
    let lastDepths: Promise<PartitionDepth[]> | null = null;
    // Both gauges read the same snapshot: the first collect of a scrape fetches it, the second reuses it.
    const snapshot = (): Promise<PartitionDepth[]> => {
      if (!lastDepths) {
        const source = metrics.depthSource;
        lastDepths = source ? source.depths().catch(() => []) : Promise.resolve([]);
        setImmediate(() => (lastDepths = null));
      }
      return lastDepths;
    };
    this.queueDepth = new Gauge({
      name: 'patchbay_queue_depth',
      help: 'Jobs (partition-slices of transactions) waiting or running, per partition',
      labelNames: ['partition'],
      registers,
      async collect() {
        this.reset();
        for (const d of await snapshot()) this.set({ partition: String(d.partition) }, d.waiting + d.active);
      },
    });
    this.queueLag = new Gauge({
      name: 'patchbay_queue_lag_seconds',
      help: 'Age of the oldest unfinished job per partition (0 when empty)',
      labelNames: ['partition'],
      registers,
      async collect() {
        this.reset();
        for (const d of await snapshot()) this.set({ partition: String(d.partition) }, d.oldestAgeMs / 1000);
      },
    });
    this.deliverySeconds = new Histogram({
      name: 'patchbay_pipeline_delivery_seconds',
      help: 'From the host accepting a transaction to the handler starting on one of its events',
      buckets: latencyBuckets,
      registers,
    });
    this.handlerSeconds = new Histogram({
      name: 'patchbay_pipeline_handler_seconds',
      help: 'Time the plugins took to handle one event (each try)',
      buckets: latencyBuckets,
      registers,
    });
    this.handlerFailures = new Counter({
      name: 'patchbay_pipeline_handler_failures_total',
      help: 'Handler tries that threw (each is retried until handler_attempts, then dead-lettered)',
      registers,
    });
    this.deadLetters = new Counter({
      name: 'patchbay_pipeline_dead_letters_total',
      help: 'Events moved to the dead-letter set after failing all their tries',
      registers,
    });
    this.eventsHandled = new Counter({
      name: 'patchbay_pipeline_events_total',
      help: 'Events taken off the queues, by outcome (handled, skipped_done, dead_lettered)',
      labelNames: ['outcome'],
      registers,
    });
    this.ephemeralHandled = new Counter({
      name: 'patchbay_pipeline_ephemeral_total',
      help: 'Ephemeral events (typing, receipts, presence) handed to the plugins, by outcome (handled, failed)',
      labelNames: ['outcome'],
      registers,
    });
    this.outageWaits = new Counter({
      name: 'patchbay_handler_outage_waits_total',
      help: 'Pauses of a partition whose handler failed because a dependency was down, by dependency (redis, homeserver); no handler attempt is spent',
      labelNames: ['dependency'],
      registers,
    });
    this.retryLaterWaits = new Counter({
      name: 'patchbay_handler_retry_later_waits_total',
      help: 'Pauses of a partition because a bridge asked to retry an event later (RetryLaterError); within host.retry_later_budget_ms no handler attempt is spent',
      registers,
    });
    this.outagePartitions = new Gauge({
      name: 'patchbay_handler_outage_partitions',
      help: 'Partitions waiting now for Redis or the homeserver to come back before retrying their event',
      registers,
    });
  }
}
