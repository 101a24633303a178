// Prometheus metrics of the room core. Registered once per process on prom-client's default registry, so
// several homeservers in one process (tests) share them, as the appservice side's metrics do.
import { Counter, Gauge, Histogram, register } from 'prom-client';
import type { FederationSendMetrics } from './federation/send/FederationSendMetrics.js';

function once<T>(name: string, make: () => T): T {
  return (register.getSingleMetric(name) as T | undefined) ?? make();
}

export interface HomeserverMetrics {
  eventsPersisted: Counter;
  httpRequests: Counter<'method' | 'status'>;
  httpDuration: Histogram<'method'>;
  syncWaiting: Gauge;
  rateLimited: Counter<'limit'>;
  connectionsCut: Counter<'reason'>;
  pushes: Counter<'outcome'>;
  federationSend: FederationSendMetrics;
}

export function homeserverMetrics(): HomeserverMetrics {
  return {
    eventsPersisted: once(
      'patchbay_hs_events_persisted_total',
      () => new Counter({ name: 'patchbay_hs_events_persisted_total', help: 'Room events committed to the homeserver database' }),
    ),
    httpRequests: once(
      'patchbay_hs_http_requests_total',
      () =>
        new Counter({
          name: 'patchbay_hs_http_requests_total',
          help: 'Client-Server API requests answered, by method and status code',
          labelNames: ['method', 'status'],
        }),
    ),
    httpDuration: once(
      'patchbay_hs_http_request_duration_seconds',
      () =>
        new Histogram({
          name: 'patchbay_hs_http_request_duration_seconds',
          help: 'Time to answer Client-Server API requests (long-polling /sync included)',
          labelNames: ['method'],
          buckets: [0.005, 0.02, 0.1, 0.5, 2, 10, 60],
        }),
    ),
    syncWaiting: once(
      'patchbay_hs_sync_waiting',
      () => new Gauge({ name: 'patchbay_hs_sync_waiting', help: '/sync requests currently long-polling' }),
    ),
    rateLimited: once(
      'patchbay_hs_rate_limited_total',
      () =>
        new Counter({
          name: 'patchbay_hs_rate_limited_total',
          help: 'Requests refused with 429 M_LIMIT_EXCEEDED, by limit (homeserver.rate_limits)',
          labelNames: ['limit'],
        }),
    ),
    pushes: once(
      'patchbay_hs_pushes_total',
      () =>
        new Counter({
          name: 'patchbay_hs_pushes_total',
          help: 'Notifications posted to push gateways, by outcome (sent, failed, rejected, skipped)',
          labelNames: ['outcome'],
        }),
    ),
    connectionsCut: once(
      'patchbay_hs_connections_cut_total',
      () =>
        new Counter({
          name: 'patchbay_hs_connections_cut_total',
          help: 'Client connections closed by homeserver.connections limits, by reason (headers_timeout, body_too_slow, too_many_per_ip)',
          labelNames: ['reason'],
        }),
    ),
    federationSend: federationSendMetrics(),
  };
}

function federationSendMetrics(): FederationSendMetrics {
  const labelled = <L extends string>(kind: 'counter' | 'gauge', name: string, help: string, labelNames: L[]) =>
    once(name, () => (kind === 'counter' ? new Counter({ name, help, labelNames }) : new Gauge({ name, help, labelNames })));
  return {
    queued: labelled('gauge', 'patchbay_hs_federation_queued', 'PDUs and EDUs waiting for a destination server, by kind (pdu, edu)', ['destination', 'kind']) as Gauge<'destination' | 'kind'>,
    transactions: labelled(
      'counter',
      'patchbay_hs_federation_transactions_total',
      'Federation transaction attempts, by destination and outcome (sent, failed, refused)',
      ['destination', 'outcome'],
    ) as Counter<'destination' | 'outcome'>,
    sent: labelled('counter', 'patchbay_hs_federation_sent_total', 'PDUs and EDUs acknowledged by destination servers, by kind', ['destination', 'kind']) as Counter<'destination' | 'kind'>,
    rejectedPdus: labelled(
      'counter',
      'patchbay_hs_federation_rejected_pdus_total',
      'PDUs a destination server answered with an error in its /send response',
      ['destination'],
    ) as Counter<'destination'>,
    dropped: labelled(
      'counter',
      'patchbay_hs_federation_dropped_total',
      'Waiting PDUs and EDUs dropped because a destination queue was full, by kind',
      ['destination', 'kind'],
    ) as Counter<'destination' | 'kind'>,
    backoff: labelled('gauge', 'patchbay_hs_federation_backoff_seconds', 'Current retry delay of a failing destination server (0 while it answers)', ['destination']) as Gauge<'destination'>,
  };
}
