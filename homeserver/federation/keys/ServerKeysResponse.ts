// Reading another server's key response (direct, or one entry of a notary's answer): it must name the
// server asked about, carry well-formed ed25519 keys, and be signed by that server with its own listed
// verify keys. Validity is capped at 7 days from now, as room versions 5+ require, so a key published
// "for ever" still gets checked again.
import { signatureKeyIds, verifyJsonSignature } from '../signing/SignedJson.js';
import { decodeBase64 } from '../signing/UnpaddedBase64.js';

export const MAX_KEY_VALIDITY_MS = 7 * 24 * 3600 * 1000;

/** One verify key as cached: usable for signatures made at or before validUntilTs. */
export interface RemoteVerifyKey {
  key: Uint8Array;
  validUntilTs: number;
}

export class KeyResponseError extends Error {
  constructor(serverName: string, problem: string) {
    super(`Keys of ${serverName}: ${problem}`);
    this.name = 'KeyResponseError';
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function publicKeyOf(serverName: string, keyId: string, entry: unknown): Uint8Array {
  const text = isObject(entry) ? entry['key'] : undefined;
  const key = typeof text === 'string' ? decodeBase64(text) : null;
  if (!key || key.length !== 32) throw new KeyResponseError(serverName, `${keyId} is not a 32-byte Base64 ed25519 key`);
  return key;
}

/**
 * The keys of a /_matrix/key/v2/server response from `serverName`, after checking its self-signature.
 * Throws KeyResponseError when the response cannot be trusted.
 */
export function readServerKeys(serverName: string, body: unknown, now: number): Map<string, RemoteVerifyKey> {
  if (!isObject(body)) throw new KeyResponseError(serverName, 'the response is not a JSON object');
  if (body['server_name'] !== serverName) {
    throw new KeyResponseError(serverName, `the response is for ${JSON.stringify(body['server_name'])}`);
  }
  const validUntil = body['valid_until_ts'];
  if (typeof validUntil !== 'number') throw new KeyResponseError(serverName, 'valid_until_ts is missing');
  const verifyKeys = isObject(body['verify_keys']) ? body['verify_keys'] : {};
  const keys = new Map<string, RemoteVerifyKey>();
  const cap = now + MAX_KEY_VALIDITY_MS;
  for (const [keyId, entry] of Object.entries(verifyKeys)) {
    if (!keyId.startsWith('ed25519:')) continue; // algorithms we do not understand are skipped
    keys.set(keyId, { key: publicKeyOf(serverName, keyId, entry), validUntilTs: Math.min(validUntil, cap) });
  }
  // Every signature by a listed verify key must hold, and there must be at least one.
  const signedWith = signatureKeyIds(body, serverName).filter((id) => keys.has(id));
  if (signedWith.length === 0) throw new KeyResponseError(serverName, 'the response is not signed by any of its verify keys');
  for (const keyId of signedWith) {
    if (!verifyJsonSignature(body, serverName, keyId, keys.get(keyId)!.key)) {
      throw new KeyResponseError(serverName, `the signature with ${keyId} does not verify`);
    }
  }
  const oldKeys = isObject(body['old_verify_keys']) ? body['old_verify_keys'] : {};
  for (const [keyId, entry] of Object.entries(oldKeys)) {
    if (!keyId.startsWith('ed25519:') || keys.has(keyId)) continue;
    const expired = isObject(entry) ? entry['expired_ts'] : undefined;
    if (typeof expired !== 'number') throw new KeyResponseError(serverName, `old key ${keyId} has no expired_ts`);
    keys.set(keyId, { key: publicKeyOf(serverName, keyId, entry), validUntilTs: expired });
  }
  return keys;
}
