// Hashing and signing outgoing events, and checking received ones, as "Signing Events" in the
// Server-Server API describes: hash the full event, sign its redacted form, copy the signature back.
import type { RoomVersion } from '../../rooms/RoomVersions.js';
import { signJson, signatureKeyIds, verifyJsonSignature, type ServerSigningKey, type Signatures } from '../signing/SignedJson.js';
import { hasValidContentHash, hashesFor } from './EventHashes.js';
import { redactEvent } from './EventRedaction.js';

/** The event with its content hash and the server's signature added (`unsigned` kept, not covered). */
export function hashAndSignEvent<T extends Record<string, unknown>>(
  roomVersion: RoomVersion,
  event: T,
  serverName: string,
  signing: ServerSigningKey,
): T & { hashes: { sha256: string }; signatures: Signatures } {
  const hashed = { ...event, hashes: hashesFor(event) };
  const signed = signJson(redactEvent(roomVersion, hashed), serverName, signing);
  return { ...hashed, signatures: signed.signatures };
}

/** Looks up a server's public key by id, valid at the given time; null when unknown or expired. */
export type VerifyKeyLookup = (serverName: string, keyId: string, atTs: number) => Promise<Uint8Array | null>;

export type EventCheck =
  /** Signatures and hash are fine: use the event as received. */
  | { outcome: 'valid' }
  /** Signed, but the content does not match its hash: use this redacted copy instead. */
  | { outcome: 'redacted'; event: Record<string, unknown> }
  /** The signature check failed: drop the event. */
  | { outcome: 'bad_signature'; reason: string };

/** The server part of a user id (`@a:example.org:8448` -> `example.org:8448`). */
export function serverOfUserId(userId: string): string | null {
  const at = userId.indexOf(':');
  return userId.startsWith('@') && at > 1 ? userId.slice(at + 1) : null;
}

/**
 * Checks a received event: the sender's server must have signed its redacted form with at least one key
 * known and valid at origin_server_ts (keys unknown here are skipped, as the spec says; none left fails),
 * and every such signature must verify. Then the content hash decides between the event and its redaction.
 * Third-party-invite joins, which another server may sign, are the caller's special case.
 */
export async function checkEventSignatures(
  roomVersion: RoomVersion,
  event: Record<string, unknown>,
  lookup: VerifyKeyLookup,
): Promise<EventCheck> {
  const sender = typeof event['sender'] === 'string' ? event['sender'] : '';
  const origin = serverOfUserId(sender);
  if (!origin) return { outcome: 'bad_signature', reason: 'The event has no valid sender' };
  const redacted = redactEvent(roomVersion, event);
  const ts = typeof event['origin_server_ts'] === 'number' ? event['origin_server_ts'] : 0;
  let verified = 0;
  for (const keyId of signatureKeyIds(redacted, origin)) {
    const key = await lookup(origin, keyId, ts);
    if (!key) continue;
    if (!verifyJsonSignature(redacted, origin, keyId, key)) {
      return { outcome: 'bad_signature', reason: `The signature of ${origin} with ${keyId} does not verify` };
    }
    verified++;
  }
  if (verified === 0) return { outcome: 'bad_signature', reason: `No signature of ${origin} with a key known at the event's time` };
  return hasValidContentHash(event) ? { outcome: 'valid' } : { outcome: 'redacted', event: redacted };
}
