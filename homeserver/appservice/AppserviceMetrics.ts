// Prometheus metrics of the homeserver's appservice sender (names follow Synapse's, under patchbay_).
// Registered once per process on prom-client's default registry: several service instances (tests,
// a restart in the same process) share them.
import { Counter, Gauge, register } from 'prom-client';

function counter(name: string, help: string): Counter<'appservice'> {
  const existing = register.getSingleMetric(name);
  if (existing) return existing as Counter<'appservice'>;
  return new Counter({ name, help, labelNames: ['appservice'] });
}

function gauge(name: string, help: string): Gauge<'appservice'> {
  const existing = register.getSingleMetric(name);
  if (existing) return existing as Gauge<'appservice'>;
  return new Gauge({ name, help, labelNames: ['appservice'] });
}

export interface AppserviceMetrics {
  sentTransactions: Counter<'appservice'>;
  failedTransactions: Counter<'appservice'>;
  sentEvents: Counter<'appservice'>;
  sentEphemeral: Counter<'appservice'>;
  droppedEphemeral: Counter<'appservice'>;
  /** 1 while the sender is backing off after a failure. */
  down: Gauge<'appservice'>;
}

export function appserviceMetrics(): AppserviceMetrics {
  return {
    sentTransactions: counter('patchbay_hs_appservice_sent_transactions_total', 'Transactions acknowledged by appservices'),
    failedTransactions: counter('patchbay_hs_appservice_failed_transactions_total', 'Transaction attempts that failed'),
    sentEvents: counter('patchbay_hs_appservice_sent_events_total', 'Room events delivered to appservices'),
    sentEphemeral: counter('patchbay_hs_appservice_sent_ephemeral_total', 'Ephemeral events delivered to appservices'),
    droppedEphemeral: counter(
      'patchbay_hs_appservice_dropped_ephemeral_total',
      'Ephemeral events dropped because too many were waiting for a down appservice',
    ),
    down: gauge('patchbay_hs_appservice_down', '1 while delivery to the appservice is backing off after a failure'),
  };
}
