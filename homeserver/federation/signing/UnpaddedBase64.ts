// The spec's unpadded Base64 (appendices): standard alphabet for keys, signatures and hashes, the
// URL-safe one for v4 event IDs. Decoding accepts padding too (the spec asks for leniency) but nothing
// else: Node's own decoder silently skips stray characters, which would let two texts mean one signature.
const STANDARD = /^[A-Za-z0-9+/]*={0,2}$/;
const URL_SAFE = /^[A-Za-z0-9_-]*={0,2}$/;

export function encodeUnpaddedBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/=+$/, '');
}

export function encodeUrlSafeUnpaddedBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

/** The bytes, or null when the text is not (unpadded or padded) standard Base64. */
export function decodeBase64(text: string): Buffer | null {
  if (!STANDARD.test(text)) return null;
  const body = text.replace(/=+$/, '');
  if (body.length % 4 === 1) return null;
  return Buffer.from(body, 'base64');
}

/** The bytes of URL-safe Base64, or null. */
export function decodeUrlSafeBase64(text: string): Buffer | null {
  if (!URL_SAFE.test(text)) return null;
  const body = text.replace(/=+$/, '');
  if (body.length % 4 === 1) return null;
  return Buffer.from(body, 'base64url');
}
