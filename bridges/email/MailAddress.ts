// Email addresses as the bridge keys them: lower case (local parts are case-sensitive in theory and
// never in practice; ghost ids are lower case anyway), checked to be one plain `local@domain`.

export interface ParsedAddress {
  /** `alice+shop@bridge.example` */
  address: string;
  /** `alice+shop` */
  local: string;
  /** `alice` (before the first `+`) */
  base: string;
  /** `shop`, or null without a `+` */
  tag: string | null;
  domain: string;
}

// RFC 5321 limits: 64 octets of local part, 254 in all. Quoted local parts and IP literals are refused.
const ADDRESS = /^([A-Za-z0-9!#$%&'*/=?^_`{|}~.+-]{1,64})@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)$/;

/** The address in the bridge's form, or null when it is not a plain address. */
export function parseAddress(raw: string): ParsedAddress | null {
  const text = raw.trim().replace(/^<(.*)>$/, '$1');
  if (text.length > 254) return null;
  const m = ADDRESS.exec(text);
  if (m === null) return null;
  const local = m[1]!.toLowerCase();
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) return null;
  const domain = m[2]!.toLowerCase();
  const plus = local.indexOf('+');
  return { address: `${local}@${domain}`, local, base: plus < 0 ? local : local.slice(0, plus), tag: plus < 0 ? null : local.slice(plus + 1), domain };
}

export function normalizeAddress(raw: string): string | null {
  return parseAddress(raw)?.address ?? null;
}
