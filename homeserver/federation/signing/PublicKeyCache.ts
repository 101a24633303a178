// Node KeyObjects for ed25519 public keys, by their 32 bytes. Building one from the bytes (SPKI DER,
// createPublicKey) cost about as much as the verify itself (docs/development.md#federation), and a room's
// events are signed by a few keys, so they are kept; least recently used first out past `capacity`.
import { createPublicKey, type KeyObject } from 'node:crypto';

/** RFC 8410's SPKI DER prefix for an Ed25519 public key: the 32 bytes follow it. */
export const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export class PublicKeyCache {
  private readonly keys = new Map<string, KeyObject>();

  constructor(private readonly capacity: number) {}

  /** The KeyObject of a 32-byte ed25519 public key; throws when Node cannot read it as one. */
  get(publicKey: Uint8Array): KeyObject {
    const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('base64');
    const known = this.keys.get(id);
    if (known) {
      this.keys.delete(id);
      this.keys.set(id, known);
      return known;
    }
    const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
    this.keys.set(id, key);
    if (this.keys.size > this.capacity) this.keys.delete(this.keys.keys().next().value!);
    return key;
  }

  get size(): number {
    return this.keys.size;
  }
}
