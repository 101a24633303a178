// The spec's mapping of foreign identifiers onto user-id localparts (appendix "Mapping from other
// character sets"): UTF-8, A-Z folded to lower case, and every byte outside the kept set, `=` itself
// included, written as `=` + two lower-case hex digits.
//
// The kept set is [a-z0-9._-/]. `+` is escaped too although v1.8 allows it in localparts: servers older
// than v1.8 reject it, and DESIGN rule 5 fixes `+14155550100` as `=2b14155550100`.
// Upper case is folded, not preserved (the `_a` form would make `_`-separated remote ids ambiguous):
// `Alice` and `alice` share one ghost, whose display name keeps the original spelling.

const KEPT = new Set<number>();
for (const ch of 'abcdefghijklmnopqrstuvwxyz0123456789._-/') KEPT.add(ch.charCodeAt(0));

const UPPER_A = 0x41;
const UPPER_Z = 0x5a;
const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/** Escapes a foreign id into localpart characters; the result is lower case. */
export function escapeForeignId(foreignId: string): string {
  let out = '';
  for (let byte of encoder.encode(foreignId)) {
    if (byte >= UPPER_A && byte <= UPPER_Z) byte += 0x20;
    out += KEPT.has(byte) ? String.fromCharCode(byte) : `=${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/**
 * The foreign id an escaped localpart came from, or null when it is not the canonical escaping of any id
 * (bad `=xx`, upper-case hex, invalid UTF-8, a byte escaped that need not be): each valid localpart has
 * exactly one foreign id, so the mapping is exact both ways.
 */
export function unescapeForeignId(escaped: string): string | null {
  const bytes: number[] = [];
  for (let i = 0; i < escaped.length; i++) {
    const code = escaped.charCodeAt(i);
    if (code === 0x3d /* = */) {
      const hex = escaped.slice(i + 1, i + 3);
      if (!/^[0-9a-f]{2}$/.test(hex)) return null;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (KEPT.has(code)) {
      bytes.push(code);
    } else {
      return null;
    }
  }
  let decoded: string;
  try {
    decoded = strictDecoder.decode(new Uint8Array(bytes));
  } catch {
    return null;
  }
  return escapeForeignId(decoded) === escaped ? decoded : null;
}
