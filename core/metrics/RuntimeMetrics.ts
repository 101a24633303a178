import type { Counter, Registry } from 'prom-client';
import { metricsMaker } from './MetricsMaker.js';
import { onePerRegistry } from './onePerRegistry.js';

/**
 * The plugin runtime's metrics, created once per registry (a second host on the same registry, as in
 * tests, reuses them instead of tripping prom-client's duplicate-name check).
 */
export class RuntimeMetrics {
  readonly matrixRequests: Counter<'method' | 'outcome'>;
  readonly matrixRetries: Counter<'reason'>;
  readonly pluginEvents: Counter<'bridge' | 'outcome'>;
  readonly deadLetters: Counter<'bridge' | 'direction'>;
  readonly outboxSent: Counter<'bridge'>;
  readonly httpRequests: Counter<'bridge' | 'route' | 'status'>;

  /** The runtime's metrics of this registry (made once per registry). */
  static for(registry: Registry): RuntimeMetrics {
    return onePerRegistry(registry, RuntimeMetrics);
  }

  /** Use `for(registry)`: constructing twice on one registry trips prom-client's duplicate-name check. */
  constructor(registry: Registry) {
    const m = metricsMaker(registry);
    this.matrixRequests = m.counter('patchbay_matrix_requests_total', 'Client-Server API requests made by the host, by outcome (ok or errcode)', ['method', 'outcome']);
    this.matrixRetries = m.counter('patchbay_matrix_retries_total', 'Client-Server API requests retried, by reason (rate_limited, server_error, connection)', ['reason']);
    this.pluginEvents = m.counter(
      'patchbay_plugin_events_total',
      'Matrix events handed to plugins, by outcome (ok, ignored, encrypted, error, permanent, retry_later, skipped_done)',
      ['bridge', 'outcome'],
    );
    this.deadLetters = m.counter(
      'patchbay_dead_letters_total',
      'Events that could not be bridged after their tries (to_remote: Matrix events; to_matrix: outbox)',
      ['bridge', 'direction'],
    );
    this.httpRequests = m.counter('patchbay_plugin_http_requests_total', "Requests to the bridges' HTTP routes, by bridge, route and response status", ['bridge', 'route', 'status']);
    this.outboxSent = m.counter('patchbay_outbox_sent_total', 'Remote->Matrix messages the homeserver accepted', ['bridge']);
  }
}
