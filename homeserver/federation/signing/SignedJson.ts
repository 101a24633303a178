// Signing JSON objects (appendices, "Signing JSON"): the signature covers the canonical JSON of the
// object without `signatures` and `unsigned`, and is added under signatures[entity][keyId].
import { canonicalJsonBytes } from '../json/CanonicalJson.js';
import { verifyEd25519, type Ed25519SigningKey } from './Ed25519.js';
import { decodeBase64, encodeUnpaddedBase64 } from './UnpaddedBase64.js';

/** A server's signing key and the id it is published under (`ed25519:abc`). */
export interface ServerSigningKey {
  keyId: string;
  key: Ed25519SigningKey;
}

export type Signatures = Record<string, Record<string, string>>;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The bytes a signature covers. */
export function signedBytes(obj: Record<string, unknown>): Uint8Array {
  const { signatures: _s, unsigned: _u, ...rest } = obj;
  return canonicalJsonBytes(rest);
}

/** A copy of `obj` with the entity's signature added (other signatures and `unsigned` kept). */
export function signJson<T extends Record<string, unknown>>(obj: T, entity: string, signing: ServerSigningKey): T & { signatures: Signatures } {
  const signature = encodeUnpaddedBase64(signing.key.sign(signedBytes(obj)));
  const existing = isObject(obj['signatures']) ? (obj['signatures'] as Signatures) : {};
  const signatures: Signatures = { ...existing, [entity]: { ...(existing[entity] ?? {}), [signing.keyId]: signature } };
  return { ...obj, signatures };
}

/** The ed25519 key ids an entity signed the object with (other algorithms are not understood). */
export function signatureKeyIds(obj: Record<string, unknown>, entity: string): string[] {
  const sigs = obj['signatures'];
  if (!isObject(sigs) || !isObject(sigs[entity])) return [];
  return Object.keys(sigs[entity] as object).filter((id) => id.startsWith('ed25519:'));
}

/** Whether the entity's signature with keyId verifies under publicKey. */
export function verifyJsonSignature(obj: Record<string, unknown>, entity: string, keyId: string, publicKey: Uint8Array): boolean {
  const sigs = obj['signatures'];
  if (!isObject(sigs) || !isObject(sigs[entity])) return false;
  const text = (sigs[entity] as Record<string, unknown>)[keyId];
  if (typeof text !== 'string') return false;
  const signature = decodeBase64(text);
  if (!signature) return false;
  let bytes: Uint8Array;
  try {
    bytes = signedBytes(obj);
  } catch {
    return false; // no canonical form: nobody could have signed it
  }
  return verifyEd25519(publicKey, bytes, signature);
}
