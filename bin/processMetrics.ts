// Node's own process metrics (CPU, memory, event loop lag, GC, handles: prom-client's default set) on the
// process's /metrics, once per process whichever commands share it.
import { collectDefaultMetrics, register } from 'prom-client';

export function collectProcessMetrics(): void {
  if (register.getSingleMetric('process_cpu_user_seconds_total') !== undefined) return;
  collectDefaultMetrics({ register });
}
