// Prometheus metrics of the room core. Registered once per process on prom-client's default registry, so
// several homeservers in one process (tests) share them, as the appservice side's metrics do.
import { Counter, Gauge, Histogram, register } from 'prom-client';

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
  };
}
