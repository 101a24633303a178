// Delivers one appservice's transactions: exactly one in flight, oldest stored first. A failed attempt
// (any non-2xx answer, a timeout, a refused connection) keeps the stored transaction and retries the
// SAME txn id with the SAME body after a capped, jittered exponential backoff; only a 2xx deletes it and
// lets the next one be built. Nothing is marked sent that the appservice did not acknowledge.
import { setImmediate as nextTick } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Appservice } from './Appservice.js';
import type { AppserviceHttpClient } from './AppserviceHttpClient.js';
import type { AppserviceMetrics } from './AppserviceMetrics.js';
import type { AppserviceStore, StoredTransaction } from './AppserviceStore.js';
import { SerialDelivery } from '../delivery/SerialDelivery.js';
import type { TransactionQueue } from './TransactionQueue.js';

export interface TransactionSenderDeps {
  /** The appservice's current registration (it may change on reload); null once it was removed. */
  appservice: () => Appservice | null;
  store: AppserviceStore;
  queue: TransactionQueue;
  http: AppserviceHttpClient;
  retry: { initialMs: number; maxMs: number };
  /** Per attempt; an appservice that accepts the connection but never answers must not stall delivery. */
  requestTimeoutMs: number;
  metrics: AppserviceMetrics;
  logger: Logger;
}

export class TransactionSender extends SerialDelivery {
  constructor(
    readonly appserviceId: string,
    private readonly deps: TransactionSenderDeps,
  ) {
    super(deps.retry);
  }

  protected async drain(): Promise<void> {
    const { logger } = this.deps;
    while (this.running) {
      const appservice = this.deps.appservice();
      if (appservice === null) return;
      if (appservice.url === null) {
        this.deps.queue.skipToHead(appservice);
        return;
      }
      let next;
      try {
        next = this.deps.queue.next(appservice);
      } catch (err) {
        logger.error({ err, appservice_id: appservice.id }, 'could not build appservice transaction');
        this.scheduleRetry();
        return;
      }
      if (next.kind === 'idle') {
        if (next.more) {
          await nextTick();
          continue;
        }
        return;
      }
      const delivered = await this.attempt(appservice, next.txn);
      if (!this.running) return;
      if (!delivered) {
        this.scheduleRetry();
        return;
      }
      this.deps.store.deleteTransaction(appservice.id, next.txn.txnId);
      this.backoff.reset();
      this.deps.metrics.down.set({ appservice: appservice.id }, 0);
    }
  }

  private async attempt(appservice: Appservice, txn: StoredTransaction): Promise<boolean> {
    const { logger, metrics } = this.deps;
    const fields = {
      appservice_id: appservice.id,
      txn_id: txn.txnId,
      event_count: txn.eventCount,
      ephemeral_count: txn.ephemeralCount,
      attempt: this.backoff.failureCount + 1,
    };
    const path = `/transactions/${encodeURIComponent(txn.txnId)}`;
    const result = await this.deps.http.request(appservice, 'transactions', {
      method: 'PUT',
      v1Path: path,
      legacyPath: path,
      body: txn.body,
      timeoutMs: this.deps.requestTimeoutMs,
      signal: this.abort.signal,
    });
    if (result.kind === 'aborted') return false;
    if (result.kind === 'response' && result.status >= 200 && result.status < 300) {
      // Every delivery at debug (busy bridges get thousands); a recovery after failures at info.
      if (this.backoff.failureCount > 0) logger.info(fields, 'appservice reachable again; transaction delivered');
      else logger.debug(fields, 'appservice transaction delivered');
      metrics.sentTransactions.inc({ appservice: appservice.id });
      metrics.sentEvents.inc({ appservice: appservice.id }, txn.eventCount);
      metrics.sentEphemeral.inc({ appservice: appservice.id }, txn.ephemeralCount);
      return true;
    }
    metrics.failedTransactions.inc({ appservice: appservice.id });
    const why =
      result.kind === 'response'
        ? { status: result.status, body: result.text.slice(0, 500) }
        : result.kind === 'timeout'
          ? { error: `no answer within ${this.deps.requestTimeoutMs} ms` }
          : { error: result.message };
    logger.warn({ ...fields, ...why }, 'appservice transaction failed; it will be retried unchanged');
    return false;
  }

  protected backingOff(delayMs: number): void {
    this.deps.metrics.down.set({ appservice: this.appserviceId }, 1);
    this.deps.logger.info({ appservice_id: this.appserviceId, delay_ms: delayMs }, 'appservice sender backing off');
  }

  protected failedUnexpectedly(err: unknown): void {
    this.deps.logger.error({ err, appservice_id: this.appserviceId }, 'appservice sender stopped unexpectedly');
  }
}
