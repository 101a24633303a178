import type { Registry } from 'prom-client';

const made = new WeakMap<Registry, Map<unknown, unknown>>();

/**
 * The one instance of a set of metrics for a registry, made on first use: several hosts, or an ingest
 * role and a worker role, on one registry (one process, one test) share it instead of tripping
 * prom-client's duplicate-name check.
 */
export function onePerRegistry<T>(registry: Registry, kind: new (registry: Registry) => T): T {
  let byKind = made.get(registry);
  if (!byKind) made.set(registry, (byKind = new Map()));
  let metrics = byKind.get(kind) as T | undefined;
  if (metrics === undefined) {
    metrics = new kind(registry);
    byKind.set(kind, metrics);
  }
  return metrics;
}
