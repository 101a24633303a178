import { Counter, type Registry } from 'prom-client';
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
    const registers = [registry];
    this.matrixRequests = new Counter({
      name: 'patchbay_matrix_requests_total',
      help: 'Client-Server API requests made by the host, by outcome (ok or errcode)',
      labelNames: ['method', 'outcome'],
      registers,
    });
    this.matrixRetries = new Counter({
      name: 'patchbay_matrix_retries_total',
      help: 'Client-Server API requests retried, by reason (rate_limited, server_error, connection)',
      labelNames: ['reason'],
      registers,
    });
    this.pluginEvents = new Counter({
      name: 'patchbay_plugin_events_total',
      help: 'Matrix events handed to plugins, by outcome (ok, ignored, error, permanent, retry_later, skipped_done)',
      labelNames: ['bridge', 'outcome'],
      registers,
    });
    this.deadLetters = new Counter({
      name: 'patchbay_dead_letters_total',
      help: 'Events that could not be bridged after their tries (to_remote: Matrix events; to_matrix: outbox)',
      labelNames: ['bridge', 'direction'],
      registers,
    });
    this.httpRequests = new Counter({
      name: 'patchbay_plugin_http_requests_total',
      help: "Requests to the bridges' HTTP routes, by bridge, route and response status",
      labelNames: ['bridge', 'route', 'status'],
      registers,
    });
    this.outboxSent = new Counter({
      name: 'patchbay_outbox_sent_total',
      help: 'Remote->Matrix messages the homeserver accepted',
      labelNames: ['bridge'],
      registers,
    });
  }
}
