import type { MatrixEphemeralEvent, MatrixEvent } from '../plugin-api/index.js';

/** A transaction body that passed validation: what ingest stores. */
export interface ValidTransaction {
  events: MatrixEvent[];
  /** `ephemeral` (or the unstable `de.sorunome.msc2409.ephemeral`), empty when absent. */
  ephemeral: MatrixEphemeralEvent[];
}

/** What storing a transaction did. */
export interface IngestOutcome {
  /** The txnId was already stored with the same events: nothing was queued. */
  duplicate: boolean;
  /** Room events queued now. */
  queued: number;
  /** Room events skipped because their event_id was already queued or handled. */
  duplicateEvents: number;
  ephemeral: number;
}

/** Where the AS API hands transactions (TransactionIngest, or a fake in tests). */
export interface TransactionSink {
  ingest(txnId: string, txn: ValidTransaction): Promise<IngestOutcome>;
}
