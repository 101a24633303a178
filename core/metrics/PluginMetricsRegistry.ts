import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type {
  Counter as PluginCounter,
  Gauge as PluginGauge,
  Histogram as PluginHistogram,
  MetricOptions,
  PluginMetrics,
} from '../plugin-api/index.js';

type Collect = (gauge: PluginGauge<string>) => void | Promise<void>;

/** The latest collect callback per gauge, so a restarted plugin's callback replaces its predecessor's. */
const collectors = new WeakMap<Registry, Map<string, Collect>>();

/**
 * One bridge's metrics in the host's registry: get-or-create by name, names checked to start with
 * `patchbay_<protocol>_` so two bridges cannot collide, a name reused with another kind refused.
 */
export class PluginMetricsRegistry implements PluginMetrics {
  private readonly prefix: string;

  constructor(
    private readonly registry: Registry,
    readonly protocol: string,
  ) {
    this.prefix = `patchbay_${protocol.replace(/[^A-Za-z0-9_]/g, '_')}_`;
  }

  counter<L extends string = never>(options: MetricOptions<L>): PluginCounter<L> {
    return this.existing(options.name, Counter) ?? new Counter({ ...this.base(options), registers: [this.registry] });
  }

  gauge<L extends string = never>(options: MetricOptions<L> & { collect?: (gauge: PluginGauge<L>) => void | Promise<void> }): PluginGauge<L> {
    if (options.collect) {
      let byName = collectors.get(this.registry);
      if (!byName) collectors.set(this.registry, (byName = new Map()));
      byName.set(options.name, options.collect as Collect);
    }
    const found = this.existing<Gauge<L>>(options.name, Gauge);
    if (found) return found;
    const registry = this.registry;
    const name = options.name;
    return new Gauge<L>({
      ...this.base(options),
      registers: [registry],
      async collect() {
        const collect = collectors.get(registry)?.get(name);
        if (!collect) return;
        this.reset();
        await collect(this as PluginGauge<string>);
      },
    });
  }

  histogram<L extends string = never>(options: MetricOptions<L> & { buckets?: number[] }): PluginHistogram<L> {
    return (
      this.existing(options.name, Histogram) ??
      new Histogram({ ...this.base(options), ...(options.buckets ? { buckets: options.buckets } : {}), registers: [this.registry] })
    );
  }

  private base<L extends string>(options: MetricOptions<L>): { name: string; help: string; labelNames: L[] } {
    if (!options.name.startsWith(this.prefix) || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(options.name)) {
      throw new Error(`metric name ${JSON.stringify(options.name)}: a bridge's metrics are named ${this.prefix}<what> (letters, digits, _)`);
    }
    return { name: options.name, help: options.help, labelNames: [...(options.labelNames ?? [])] };
  }

  private existing<M>(name: string, kind: abstract new (...args: never[]) => unknown): M | undefined {
    const metric = this.registry.getSingleMetric(name);
    if (metric === undefined) return undefined;
    if (!(metric instanceof kind)) throw new Error(`metric ${name} already exists as another kind of metric`);
    return metric as M;
  }
}
