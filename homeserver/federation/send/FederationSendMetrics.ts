// The outbound federation metrics, per destination (registered in HomeserverMetrics.ts with the rest of the
// homeserver's, documented in docs/operations.md).
import type { Counter, Gauge } from 'prom-client';

export interface FederationSendMetrics {
  /** PDUs and EDUs waiting for a destination (outbox and unacknowledged transaction), by `kind`. */
  queued: Gauge<'destination' | 'kind'>;
  /** Transaction attempts by `outcome`: sent (200), failed (retried), refused (400/413, dropped). */
  transactions: Counter<'destination' | 'outcome'>;
  /** PDUs and EDUs in transactions the destination acknowledged, by `kind`. */
  sent: Counter<'destination' | 'kind'>;
  /** PDUs the destination answered with an error in its /send response (not sent again). */
  rejectedPdus: Counter<'destination'>;
  /** Oldest waiting items deleted because the destination's queue was at its cap, by `kind`. */
  dropped: Counter<'destination' | 'kind'>;
  /** The current retry delay while the destination fails; 0 while it answers. */
  backoff: Gauge<'destination'>;
}
