// Where bridges' HTTP routes may live on the host, checked once at load: every bridge has its own path
// under /_patchbay/bridges/, and may claim more (a provisioning API at /_matrix/provision/v1) as long as
// no claim overlaps the host's own paths or another bridge's.

/** The root under which each bridge's routes are mounted at `/<name>`. */
export const BRIDGE_ROUTES_ROOT = '/_patchbay/bridges';

/** Paths the host itself serves (the AS API, its legacy unprefixed paths, health and metrics). */
const HOST_PATHS = ['/_matrix/app', '/_patchbay', '/transactions', '/users', '/rooms', '/health', '/metrics'];

const PREFIX = /^(\/[A-Za-z0-9._~-]+)+$/;

/** True when one path is the other or lies below it, segment by segment. */
function overlaps(a: string, b: string): boolean {
  const below = (x: string, y: string): boolean => x === y || x.startsWith(`${y}/`);
  return below(a, b) || below(b, a);
}

/** Problems of one bridge's claimed prefixes on their own (form, the host's paths). */
export function checkHttpPrefixes(key: string, prefixes: unknown): string[] {
  if (prefixes === undefined) return [];
  if (!Array.isArray(prefixes)) return [`${key}: the plugin's httpPrefixes is not a list of paths. Fix: correct the plugin's descriptor`];
  const problems: string[] = [];
  for (const prefix of prefixes) {
    if (typeof prefix !== 'string' || !PREFIX.test(prefix) || prefix.split('/').some((s) => s === '.' || s === '..')) {
      problems.push(`${key}: the plugin's http prefix ${JSON.stringify(prefix)} is not a path like /_matrix/provision/v1 (no trailing /, no . or .. segments). Fix: correct the plugin's descriptor`);
      continue;
    }
    const taken = HOST_PATHS.find((p) => overlaps(prefix, p));
    if (taken) problems.push(`${key}: the plugin's http prefix ${prefix} overlaps the host's own ${taken}. Fix: choose another prefix in the plugin's descriptor`);
  }
  return problems;
}

/** Problems between two bridges' claims. */
export function httpPrefixOverlaps(pair: string, a: readonly string[], b: readonly string[]): string[] {
  const problems: string[] = [];
  for (const x of a) {
    for (const y of b) if (overlaps(x, y)) problems.push(`${pair}: http prefixes ${x} and ${y} overlap. Fix: enable only one of them`);
  }
  return problems;
}
