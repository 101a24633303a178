import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Makes the metrics of one set in one registry, one line per metric. */
export interface MetricsMaker {
  counter<L extends string = never>(name: string, help: string, labelNames?: readonly L[]): Counter<L>;
  gauge<L extends string = never>(name: string, help: string, labelNames?: readonly L[], collect?: (this: Gauge<L>) => void | Promise<void>): Gauge<L>;
  histogram(name: string, help: string, buckets: number[]): Histogram;
}

export function metricsMaker(registry: Registry): MetricsMaker {
  const registers = [registry];
  return {
    counter: (name, help, labelNames = []) => new Counter({ name, help, labelNames: [...labelNames], registers }),
    gauge: (name, help, labelNames = [], collect) => new Gauge({ name, help, labelNames: [...labelNames], registers, ...(collect ? { collect } : {}) }),
    histogram: (name, help, buckets) => new Histogram({ name, help, buckets, registers }),
  };
}
