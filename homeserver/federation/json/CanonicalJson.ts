// The spec's canonical JSON (appendices, "Canonical JSON"): the shortest UTF-8 encoding, object keys
// sorted by Unicode code point, integers only within ±(2^53−1), no -0. It is what every signature and
// hash in federation covers, so a value it cannot encode exactly is refused rather than approximated.
// Parsing stays with homeserver/http/StrictJson.ts, which already refuses what this cannot encode.

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** A value that has no canonical JSON form (a fraction, a number out of range, a lone surrogate ...). */
export class CanonicalJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CanonicalJsonError';
  }
}

const encoder = new TextEncoder();
/** A UTF-16 surrogate not part of a pair: UTF-8 cannot carry it. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Code point order (what the spec sorts by), which differs from UTF-16 order above U+FFFF. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

function encodeString(s: string, at: string): string {
  if (LONE_SURROGATE.test(s)) throw new CanonicalJsonError(`${at}: a string holds an unpaired surrogate`);
  // JSON.stringify escapes exactly what the spec's grammar escapes: `"`, `\`, \b \t \n \f \r and the
  // other controls as lowercase \u00XX; everything else (U+2028 included) stays as it is.
  return JSON.stringify(s);
}

function encode(value: unknown, at: string, depth: number): string {
  if (depth > 512) throw new CanonicalJsonError(`${at}: nested too deeply`);
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return encodeString(value, at);
    case 'number':
      if (!Number.isSafeInteger(value)) {
        throw new CanonicalJsonError(`${at}: ${value} is not an integer within ±(2^53−1)`);
      }
      return Object.is(value, -0) ? '0' : String(value);
    case 'object': {
      if (Array.isArray(value)) return '[' + value.map((v, i) => encode(v, `${at}[${i}]`, depth + 1)).join(',') + ']';
      // A plain object's prototype is an Object.prototype (of any realm: JSON parsed elsewhere counts) or
      // null; a Date, Map or class instance has one more level and is no JSON.
      const proto = Object.getPrototypeOf(value) as object | null;
      if (proto !== null && Object.getPrototypeOf(proto) !== null) throw new CanonicalJsonError(`${at}: not a plain JSON object`);
      const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
      entries.sort(([a], [b]) => compareCodePoints(a, b));
      return '{' + entries.map(([k, v]) => encodeString(k, at) + ':' + encode(v, `${at}.${k}`, depth + 1)).join(',') + '}';
    }
    default:
      throw new CanonicalJsonError(`${at}: a ${typeof value} is not JSON`);
  }
}

/** The canonical JSON text of a value; throws CanonicalJsonError when it has none. */
export function canonicalJson(value: unknown): string {
  return encode(value, '$', 0);
}

/** The canonical JSON as the UTF-8 bytes that are signed and hashed. */
export function canonicalJsonBytes(value: unknown): Uint8Array {
  return encoder.encode(canonicalJson(value));
}
