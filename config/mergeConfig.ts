export type ConfigMap = Record<string, unknown>;

export function isConfigMap(value: unknown): value is ConfigMap {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * `override` laid over `base`: maps merge key by key, lists and scalars replace. An empty section in
 * the user's file (`homeserver:` with every key commented out, which YAML reads as null) keeps the
 * defaults instead of wiping them. Neither input is modified.
 */
export function mergeConfig(base: unknown, override: unknown): unknown {
  if (override === undefined) return structuredClone(base);
  if (override === null && isConfigMap(base)) return structuredClone(base);
  if (isConfigMap(base) && isConfigMap(override)) {
    const out: ConfigMap = structuredClone(base);
    for (const [key, value] of Object.entries(override)) {
      // defineProperty: a `__proto__` key from YAML stays a plain key (and is reported as unknown).
      Object.defineProperty(out, key, {
        value: mergeConfig(Object.hasOwn(base, key) ? base[key] : undefined, value),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return structuredClone(override);
}
