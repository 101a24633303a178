// Delivers one destination's transactions: exactly one in flight, oldest first. A failed attempt (no
// answer, a timeout, any status but 200, 400 and 413) keeps the stored transaction and retries the SAME txn
// id with the SAME body after a capped, jittered exponential backoff; only a 200 deletes it and lets the
// next one be built. A destination that is down waits on its own timer and never delays another.
import type { Logger } from 'pino';
import { SerialDelivery } from '../../delivery/SerialDelivery.js';
import { FederationRequestError } from '../transport/FederationClient.js';
import type { FederationOutbox, OutboundTransaction, QueuedCounts, TransactionLimits } from './FederationOutbox.js';
import type { FederationSendMetrics } from './FederationSendMetrics.js';

/** PUT /_matrix/federation/v1/send/{txnId}, signed; resolves to the 200 body, throws otherwise. */
export type TransactionTransport = (destination: string, txnId: string, body: unknown, signal: AbortSignal) => Promise<unknown>;

export interface DestinationSenderDeps {
  origin: string;
  outbox: FederationOutbox;
  transport: TransactionTransport;
  limits: TransactionLimits;
  retry: { initialMs: number; maxMs: number };
  metrics: FederationSendMetrics;
  logger: Logger;
  /** For tests: the jitter of the backoff. */
  random?: () => number;
}

type Outcome = 'sent' | 'retry' | 'refused';

export class DestinationSender extends SerialDelivery {
  private readonly queued: QueuedCounts;

  constructor(
    readonly destination: string,
    private readonly deps: DestinationSenderDeps,
  ) {
    super(deps.retry, deps.random);
    this.queued = deps.outbox.counts(destination);
    this.publishQueued();
  }

  /** Something was stored for this destination (counts as given by the outbox). */
  enqueued(added: QueuedCounts, dropped: QueuedCounts): void {
    this.queued.pdus += added.pdus - dropped.pdus;
    this.queued.edus += added.edus - dropped.edus;
    this.publishQueued();
    if (dropped.pdus > 0) this.deps.metrics.dropped.inc({ destination: this.destination, kind: 'pdu' }, dropped.pdus);
    if (dropped.edus > 0) this.deps.metrics.dropped.inc({ destination: this.destination, kind: 'edu' }, dropped.edus);
    if (dropped.pdus + dropped.edus > 0) {
      this.deps.logger.warn(
        { destination: this.destination, dropped_pdus: dropped.pdus, dropped_edus: dropped.edus },
        'federation queue for this destination is full; the oldest waiting items were dropped',
      );
    }
    this.notifySoon();
  }

  get pending(): QueuedCounts {
    return { ...this.queued };
  }

  protected async drain(): Promise<void> {
    while (this.running) {
      const txn = this.deps.outbox.next(this.destination, this.deps.origin, this.deps.limits);
      if (txn === null) {
        // Nothing stored: the counts are zero whatever they say (an enqueue whose SQLite transaction
        // rolled back was counted but never stored).
        this.queued.pdus = 0;
        this.queued.edus = 0;
        this.publishQueued();
        return;
      }
      const outcome = await this.attempt(txn);
      if (!this.running) return;
      if (outcome === 'retry') {
        this.scheduleRetry();
        return;
      }
      this.deps.outbox.deleteTransaction(this.destination, txn.txnId);
      this.queued.pdus -= txn.pduCount;
      this.queued.edus -= txn.eduCount;
      this.publishQueued();
      this.backoff.reset();
      this.deps.metrics.backoff.set({ destination: this.destination }, 0);
    }
  }

  private async attempt(txn: OutboundTransaction): Promise<Outcome> {
    const { logger, metrics } = this.deps;
    const fields = {
      destination: this.destination,
      txn_id: txn.txnId,
      pdu_count: txn.pduCount,
      edu_count: txn.eduCount,
      attempt: this.backoff.failureCount + 1,
    };
    let answer: unknown;
    try {
      answer = await this.deps.transport(this.destination, txn.txnId, JSON.parse(txn.body), this.abort.signal);
    } catch (err) {
      if (this.abort.signal.aborted) return 'retry';
      const status = err instanceof FederationRequestError ? err.status : null;
      const message = err instanceof Error ? err.message : String(err);
      // 400 and 413 say the body itself is unacceptable: the same body can never succeed, and retrying it
      // would hold back everything queued behind it.
      if (status === 400 || status === 413) {
        metrics.transactions.inc({ destination: this.destination, outcome: 'refused' });
        logger.error({ ...fields, status, error: message, event_ids: txn.eventIds }, 'destination refused a federation transaction; it is dropped');
        return 'refused';
      }
      metrics.transactions.inc({ destination: this.destination, outcome: 'failed' });
      logger.warn({ ...fields, status, error: message }, 'federation transaction failed; it will be retried unchanged');
      return 'retry';
    }
    if (this.backoff.failureCount > 0) logger.info(fields, 'destination reachable again; federation transaction delivered');
    else logger.debug(fields, 'federation transaction delivered');
    metrics.transactions.inc({ destination: this.destination, outcome: 'sent' });
    if (txn.pduCount > 0) metrics.sent.inc({ destination: this.destination, kind: 'pdu' }, txn.pduCount);
    if (txn.eduCount > 0) metrics.sent.inc({ destination: this.destination, kind: 'edu' }, txn.eduCount);
    this.reportRejectedPdus(txn, answer);
    return 'sent';
  }

  /** `{pdus: {id: {error}}}`: the destination took the transaction but not these PDUs. Logged, never retried. */
  private reportRejectedPdus(txn: OutboundTransaction, answer: unknown): void {
    const pdus = typeof answer === 'object' && answer !== null ? (answer as { pdus?: unknown }).pdus : undefined;
    if (typeof pdus !== 'object' || pdus === null) return;
    for (const [eventId, result] of Object.entries(pdus)) {
      const error = typeof result === 'object' && result !== null ? (result as { error?: unknown }).error : undefined;
      if (error === undefined) continue;
      this.deps.metrics.rejectedPdus.inc({ destination: this.destination });
      this.deps.logger.warn(
        { destination: this.destination, txn_id: txn.txnId, event_id: eventId, error: String(error).slice(0, 500) },
        'destination rejected a PDU; it is not sent again',
      );
    }
  }

  protected backingOff(delayMs: number): void {
    this.deps.metrics.backoff.set({ destination: this.destination }, delayMs / 1000);
    this.deps.logger.info({ destination: this.destination, delay_ms: delayMs, failures: this.backoff.failureCount }, 'federation sender backing off');
  }

  protected failedUnexpectedly(err: unknown): void {
    // A bug, or a closed database.
    this.deps.logger.error({ err, destination: this.destination }, 'federation sender failed unexpectedly');
  }

  private publishQueued(): void {
    this.deps.metrics.queued.set({ destination: this.destination, kind: 'pdu' }, this.queued.pdus);
    this.deps.metrics.queued.set({ destination: this.destination, kind: 'edu' }, this.queued.edus);
  }
}
