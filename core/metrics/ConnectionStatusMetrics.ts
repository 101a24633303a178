import type { Gauge, Registry } from 'prom-client';
import type { ConnectionState } from '../plugin-api/index.js';
import { metricsMaker } from './MetricsMaker.js';
import { onePerRegistry } from './onePerRegistry.js';

const STATES: readonly ConnectionState[] = ['connecting', 'connected', 'backoff', 'failed', 'stopped'];

/** The bridges' connection states as this process knows them: one series per state, 1 for the current one. */
export class ConnectionStatusMetrics {
  private readonly state: Gauge<'bridge' | 'connection' | 'state'>;

  static for(registry: Registry): ConnectionStatusMetrics {
    return onePerRegistry(registry, ConnectionStatusMetrics);
  }

  constructor(registry: Registry) {
    this.state = metricsMaker(registry).gauge(
      'patchbay_bridge_connection_state',
      "Bridges' remote connections reported by this process: 1 for the state each is in, 0 for the others",
      ['bridge', 'connection', 'state'],
    );
  }

  set(bridge: string, connection: string, current: ConnectionState): void {
    for (const state of STATES) this.state.set({ bridge, connection, state }, state === current ? 1 : 0);
  }

  forget(bridge: string, connection: string): void {
    for (const state of STATES) this.state.remove({ bridge, connection, state });
  }
}
