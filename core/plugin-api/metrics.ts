/** Label values of one series; every label is optional, as in Prometheus. */
export type MetricLabels<L extends string> = Partial<Record<L, string | number>>;

export interface MetricOptions<L extends string> {
  /** `patchbay_<protocol>_<what>`, e.g. `patchbay_sip_calls_total` (the host refuses other names). */
  name: string;
  help: string;
  labelNames?: readonly L[];
}

export interface Counter<L extends string = string> {
  inc(value?: number): void;
  inc(labels: MetricLabels<L>, value?: number): void;
}

export interface Gauge<L extends string = string> {
  set(value: number): void;
  set(labels: MetricLabels<L>, value: number): void;
  inc(value?: number): void;
  inc(labels: MetricLabels<L>, value?: number): void;
  dec(value?: number): void;
  dec(labels: MetricLabels<L>, value?: number): void;
}

export interface Histogram<L extends string = string> {
  observe(value: number): void;
  observe(labels: MetricLabels<L>, value: number): void;
  /** Starts a timer; calling the result observes the seconds elapsed (and returns them). */
  startTimer(labels?: MetricLabels<L>): (labels?: MetricLabels<L>) => number;
}

/**
 * The plugin's metrics, served on the host's /metrics. Each call returns the metric of that name,
 * creating it the first time, so a restarted plugin (or a second instance in a test) gets the same one.
 */
export interface PluginMetrics {
  counter<L extends string = never>(options: MetricOptions<L>): Counter<L>;
  /**
   * `collect`, when given, runs at each scrape after the gauge was reset: set the current values there
   * (connections by state, queue lengths). The latest plugin instance's callback is the one used.
   */
  gauge<L extends string = never>(options: MetricOptions<L> & { collect?: (gauge: Gauge<L>) => void | Promise<void> }): Gauge<L>;
  histogram<L extends string = never>(options: MetricOptions<L> & { buckets?: number[] }): Histogram<L>;
}
