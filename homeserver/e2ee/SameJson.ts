// Whether two JSON values are the same regardless of key order: a client may re-serialise a key it
// uploaded before, and what counts is the content, not the byte order.
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameJson(v, b[i]));
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra);
  return ka.length === Object.keys(rb).length && ka.every((k) => Object.hasOwn(rb, k) && sameJson(ra[k], rb[k]));
}

/** The object without the keys that signatures do not cover (`signatures`, `unsigned`). */
export function signedPart(o: Record<string, unknown>): Record<string, unknown> {
  const { signatures: _signatures, unsigned: _unsigned, ...rest } = o;
  return rest;
}
