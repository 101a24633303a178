import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { metricsMaker } from './MetricsMaker.js';
import { onePerRegistry } from './onePerRegistry.js';

/** How full one partition queue is, as the gauges report it. */
export interface PartitionDepth {
  partition: number;
  waiting: number;
  active: number;
  failed: number;
  /** Age in ms of the oldest job not yet finished (0 when the partition is empty). */
  oldestAgeMs: number;
}

/** Something that can report queue depths when /metrics is scraped (the partition queues). */
export interface DepthSource {
  depths(): Promise<PartitionDepth[]>;
}

/**
 * The event pipeline's metrics (ingest, queues, workers), created once per registry: an ingest role
 * and a worker role composed in one process, or several hosts in one test, share them.
 */
export class PipelineMetrics {
  readonly transactionsReceived: Counter;
  readonly transactionsRejected: Counter<'reason'>;
  readonly transactionsDuplicate: Counter;
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
    const m = metricsMaker(registry);
    const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
    this.transactionsReceived = m.counter('patchbay_ingest_transactions_received_total', 'Appservice transactions accepted from the homeserver (stored, then answered 200)');
    this.transactionsDuplicate = m.counter(
      'patchbay_ingest_transactions_duplicate_total',
      'Transactions whose txnId was already stored with the same events (answered 200, nothing queued)',
    );
    this.transactionsRejected = m.counter(
      'patchbay_ingest_transactions_rejected_total',
      'Transactions refused, by reason (missing_token, bad_token, not_json, bad_json, too_large, unavailable)',
      ['reason'],
    );
    this.eventsIngested = m.counter('patchbay_ingest_events_total', 'Events queued for the workers, by kind (room, ephemeral)', ['kind']);
    this.eventsDuplicate = m.counter(
      'patchbay_ingest_events_duplicate_total',
      'Events skipped because their event_id was already queued or handled, by stage (ingest, worker)',
      ['stage'],
    );
    this.ingestSeconds = m.histogram('patchbay_ingest_transaction_seconds', 'Time to store a transaction durably before answering the homeserver', latencyBuckets);
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
    const perPartition = (value: (d: PartitionDepth) => number) =>
      async function (this: Gauge<'partition'>): Promise<void> {
        this.reset();
        for (const d of await snapshot()) this.set({ partition: String(d.partition) }, value(d));
      };
    this.queueDepth = m.gauge('patchbay_queue_depth', 'Jobs (partition-slices of transactions) waiting or running, per partition', ['partition'], perPartition((d) => d.waiting + d.active));
    this.queueLag = m.gauge('patchbay_queue_lag_seconds', 'Age of the oldest unfinished job per partition (0 when empty)', ['partition'], perPartition((d) => d.oldestAgeMs / 1000));
    this.deliverySeconds = m.histogram('patchbay_pipeline_delivery_seconds', 'From the host accepting a transaction to the handler starting on one of its events', latencyBuckets);
    this.handlerSeconds = m.histogram('patchbay_pipeline_handler_seconds', 'Time the plugins took to handle one event (each try)', latencyBuckets);
    this.handlerFailures = m.counter('patchbay_pipeline_handler_failures_total', 'Handler tries that threw (each is retried until handler_attempts, then dead-lettered)');
    this.deadLetters = m.counter('patchbay_pipeline_dead_letters_total', 'Events moved to the dead-letter set after failing all their tries');
    this.eventsHandled = m.counter('patchbay_pipeline_events_total', 'Events taken off the queues, by outcome (handled, skipped_done, dead_lettered)', ['outcome']);
    this.ephemeralHandled = m.counter(
      'patchbay_pipeline_ephemeral_total',
      'Ephemeral events (typing, receipts, presence) handed to the plugins, by outcome (handled, failed)',
      ['outcome'],
    );
    this.outageWaits = m.counter(
      'patchbay_handler_outage_waits_total',
      'Pauses of a partition whose handler failed because a dependency was down, by dependency (redis, homeserver); no handler attempt is spent',
      ['dependency'],
    );
    this.retryLaterWaits = m.counter(
      'patchbay_handler_retry_later_waits_total',
      'Pauses of a partition because a bridge asked to retry an event later (RetryLaterError); within host.retry_later_budget_ms no handler attempt is spent',
    );
    this.outagePartitions = m.gauge('patchbay_handler_outage_partitions', 'Partitions waiting now for Redis or the homeserver to come back before retrying their event');
  }
}
