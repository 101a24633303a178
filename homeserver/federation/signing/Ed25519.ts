// ed25519 keys from Node's crypto, no dependency: a 32-byte seed (what Synapse's key files and the
// spec's test vectors hold) wrapped in the fixed PKCS#8 / SPKI prefixes RFC 8410 gives for Ed25519.
import { createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { PublicKeyCache, SPKI_PREFIX } from './PublicKeyCache.js';

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export const ED25519_SEED_BYTES = 32;
export const ED25519_PUBLIC_BYTES = 32;
/** Far more servers' keys than a busy room has signers; each entry is a few hundred bytes. */
const PUBLIC_KEYS_KEPT = 1024;
const publicKeys = new PublicKeyCache(PUBLIC_KEYS_KEPT);

/** A private signing key: its seed, and the public half others verify with. */
export class Ed25519SigningKey {
  private constructor(
    private readonly privateKey: KeyObject,
    readonly publicKey: Uint8Array,
  ) {}

  static fromSeed(seed: Uint8Array): Ed25519SigningKey {
    if (seed.length !== ED25519_SEED_BYTES) throw new Error(`An ed25519 seed is ${ED25519_SEED_BYTES} bytes, not ${seed.length}`);
    const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    return new Ed25519SigningKey(privateKey, new Uint8Array(spki.subarray(SPKI_PREFIX.length)));
  }

  static generate(): Ed25519SigningKey {
    return Ed25519SigningKey.fromSeed(randomBytes(ED25519_SEED_BYTES));
  }

  /** The 32-byte seed, for the key file. */
  seed(): Uint8Array {
    const der = this.privateKey.export({ format: 'der', type: 'pkcs8' });
    return new Uint8Array(der.subarray(PKCS8_PREFIX.length));
  }

  sign(message: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, message, this.privateKey));
  }
}

/** Whether `signature` is the key's ed25519 signature of `message`; false for malformed input. */
export function verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== ED25519_PUBLIC_BYTES || signature.length !== 64) return false;
  try {
    return verify(null, message, publicKeys.get(publicKey), signature);
  } catch {
    return false;
  }
}
