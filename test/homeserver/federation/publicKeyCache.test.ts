// The ed25519 public KeyObjects kept between verifications: one per key bytes, bounded, and never
// confused with another key's.
import { describe, expect, it } from '@jest/globals';
import { Ed25519SigningKey, verifyEd25519 } from '../../../homeserver/federation/signing/Ed25519.js';
import { PublicKeyCache } from '../../../homeserver/federation/signing/PublicKeyCache.js';

describe('PublicKeyCache', () => {
  const [a, b, c] = [Ed25519SigningKey.generate(), Ed25519SigningKey.generate(), Ed25519SigningKey.generate()];

  it('builds a key once for the same bytes, whatever array holds them', () => {
    const cache = new PublicKeyCache(4);
    const first = cache.get(a.publicKey);
    const inLargerBuffer = new Uint8Array(40);
    inLargerBuffer.set(a.publicKey, 5);
    expect(cache.get(new Uint8Array(a.publicKey))).toBe(first);
    expect(cache.get(inLargerBuffer.subarray(5, 37))).toBe(first);
    expect(cache.get(b.publicKey)).not.toBe(first);
    expect(cache.size).toBe(2);
    expect(Buffer.from(first.export({ format: 'der', type: 'spki' })).subarray(-32)).toEqual(Buffer.from(a.publicKey));
  });

  it('keeps at most its capacity, dropping the least recently used', () => {
    const cache = new PublicKeyCache(2);
    const keyA = cache.get(a.publicKey);
    const keyB = cache.get(b.publicKey);
    expect(cache.get(a.publicKey)).toBe(keyA); // a is now the more recent
    cache.get(c.publicKey);
    expect(cache.size).toBe(2);
    expect(cache.get(a.publicKey)).toBe(keyA);
    expect(cache.get(b.publicKey)).not.toBe(keyB); // b was dropped and is built again
  });

  it('verifyEd25519 checks each signature against its own key once the keys are kept', () => {
    const message = new TextEncoder().encode('{"a":1}');
    const signature = a.sign(message);
    for (let i = 0; i < 3; i++) {
      expect(verifyEd25519(a.publicKey, message, signature)).toBe(true);
      expect(verifyEd25519(b.publicKey, message, signature)).toBe(false);
      expect(verifyEd25519(a.publicKey, new TextEncoder().encode('{"a":2}'), signature)).toBe(false);
    }
  });
});
