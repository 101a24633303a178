import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { onePerRegistry } from '../../../core/metrics/onePerRegistry.js';
import { PluginMetricsRegistry } from '../../../core/metrics/PluginMetricsRegistry.js';

describe('metrics of the host and its plugins', () => {
  it('makes one set of metrics per registry and kind', () => {
    class Set1 {
      constructor(readonly registry: Registry) {}
    }
    class Set2 {
      constructor(readonly registry: Registry) {}
    }
    const a = new Registry();
    const b = new Registry();
    expect(onePerRegistry(a, Set1)).toBe(onePerRegistry(a, Set1));
    expect(onePerRegistry(a, Set1)).not.toBe(onePerRegistry(b, Set1));
    expect(onePerRegistry(a, Set2)).not.toBe(onePerRegistry(a, Set1));
  });

  it("gives a plugin its metric by name, the same one again after a restart, in the host's registry", async () => {
    const registry = new Registry();
    const first = new PluginMetricsRegistry(registry, 'sip').counter({ name: 'patchbay_sip_calls_total', help: 'calls', labelNames: ['direction'] });
    first.inc({ direction: 'in' });
    const again = new PluginMetricsRegistry(registry, 'sip').counter({ name: 'patchbay_sip_calls_total', help: 'calls', labelNames: ['direction'] });
    again.inc({ direction: 'in' }, 2);
    expect(await registry.getSingleMetricAsString('patchbay_sip_calls_total')).toContain('patchbay_sip_calls_total{direction="in"} 3');
  });

  it('refuses names outside the bridge\'s prefix and a name reused as another kind', () => {
    const metrics = new PluginMetricsRegistry(new Registry(), 'email');
    expect(() => metrics.counter({ name: 'patchbay_sip_calls_total', help: 'x' })).toThrow(/named patchbay_email_<what>/);
    metrics.counter({ name: 'patchbay_email_sent_total', help: 'x' });
    expect(() => metrics.gauge({ name: 'patchbay_email_sent_total', help: 'x' })).toThrow(/another kind/);
  });

  it("reads a gauge through the latest plugin instance's collect callback", async () => {
    const registry = new Registry();
    const gauge = (connections: number) =>
      new PluginMetricsRegistry(registry, 'irc').gauge({ name: 'patchbay_irc_links', help: 'x', labelNames: ['state'], collect: (g) => g.set({ state: 'up' }, connections) });
    gauge(1);
    gauge(4); // a restarted plugin: the old instance's callback must not be read any more
    const text = await registry.metrics();
    expect(text).toContain('patchbay_irc_links{state="up"} 4');
  });
});
