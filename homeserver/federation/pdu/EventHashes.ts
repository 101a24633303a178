// The content hash (covers the whole event, so a redacted copy is detectable) and the reference hash
// (covers the redacted event, so it survives redaction; v4+ event ids are made from it).
import { createHash } from 'node:crypto';
import type { RoomVersion } from '../../rooms/RoomVersions.js';
import { canonicalJsonBytes } from '../json/CanonicalJson.js';
import { decodeBase64, encodeUnpaddedBase64, encodeUrlSafeUnpaddedBase64 } from '../signing/UnpaddedBase64.js';
import { redactEvent } from './EventRedaction.js';

function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/** sha256 over the canonical JSON of the event without `unsigned`, `signatures` and `hashes`. */
export function contentHash(event: Record<string, unknown>): Buffer {
  const { unsigned: _u, signatures: _s, hashes: _h, ...rest } = event;
  return sha256(canonicalJsonBytes(rest));
}

/** Whether `hashes.sha256` matches the event's content; false when it is missing or malformed. */
export function hasValidContentHash(event: Record<string, unknown>): boolean {
  const hashes = event['hashes'];
  if (typeof hashes !== 'object' || hashes === null) return false;
  const claimed = (hashes as Record<string, unknown>)['sha256'];
  if (typeof claimed !== 'string') return false;
  const bytes = decodeBase64(claimed);
  return bytes !== null && bytes.equals(contentHash(event));
}

/** sha256 over the canonical JSON of the redacted event without `signatures` and `unsigned`. */
export function referenceHash(roomVersion: RoomVersion, event: Record<string, unknown>): Buffer {
  const { signatures: _s, unsigned: _u, ...rest } = redactEvent(roomVersion, event);
  return sha256(canonicalJsonBytes(rest));
}

/** The v4 event id (room versions 4 and later): `$` + URL-safe unpadded Base64 of the reference hash. */
export function eventIdOf(roomVersion: RoomVersion, event: Record<string, unknown>): string {
  return '$' + encodeUrlSafeUnpaddedBase64(referenceHash(roomVersion, event));
}

/** The `hashes` value for an event. */
export function hashesFor(event: Record<string, unknown>): { sha256: string } {
  return { sha256: encodeUnpaddedBase64(contentHash(event)) };
}
