// The first check on a received PDU: is it an event of this room version at all? Malformed input is
// dropped before any signature is looked at: the fields the later checks read must have their types,
// the whole event must have a canonical JSON form and fit in 65,536 bytes.
import { isValidRoomId, isValidUserId } from '../../ids/MatrixIds.js';
import type { RoomVersion } from '../../rooms/RoomVersions.js';
import { canonicalJson } from '../json/CanonicalJson.js';
import type { RoomEvent } from '../eventauth/RoomState.js';
import { eventIdOf } from '../pdu/EventHashes.js';
import { isJsonObject } from '../../http/RequestReader.js';

export const MAX_PDU_BYTES = 65536;
/** The spec's caps on the id lists of a PDU. */
export const MAX_PREV_EVENTS = 20;
export const MAX_AUTH_EVENTS = 10;

export type PduParse = { ok: true; event: RoomEvent } | { ok: false; reason: string };

const isIdList = (v: unknown, max: number): v is string[] =>
  Array.isArray(v) && v.length <= max && v.every((id) => typeof id === 'string' && id.startsWith('$'));
const isInteger = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

/** The PDU with its computed event id, or why it is no event of this version. */
export function parsePdu(roomVersion: RoomVersion, raw: unknown): PduParse {
  const bad = (reason: string): PduParse => ({ ok: false, reason });
  if (!isJsonObject(raw)) return bad('The PDU is not a JSON object');
  let json: string;
  try {
    json = canonicalJson(raw);
  } catch (err) {
    return bad(`The PDU has no canonical JSON form: ${(err as Error).message}`);
  }
  if (Buffer.byteLength(json) > MAX_PDU_BYTES) return bad(`The PDU is larger than ${MAX_PDU_BYTES} bytes`);
  if (!isValidRoomId(raw['room_id'])) return bad('room_id is not a room ID');
  if (!isValidUserId(raw['sender'])) return bad('sender is not a user ID');
  if (typeof raw['type'] !== 'string') return bad('type is not a string');
  if ('state_key' in raw && typeof raw['state_key'] !== 'string') return bad('state_key is not a string');
  if (!isJsonObject(raw['content'])) return bad('content is not an object');
  if (!isIdList(raw['prev_events'], MAX_PREV_EVENTS)) return bad(`prev_events is not a list of at most ${MAX_PREV_EVENTS} event IDs`);
  if (!isIdList(raw['auth_events'], MAX_AUTH_EVENTS)) return bad(`auth_events is not a list of at most ${MAX_AUTH_EVENTS} event IDs`);
  if (!isInteger(raw['depth']) || raw['depth'] < 0) return bad('depth is not a non-negative integer');
  if (!isInteger(raw['origin_server_ts'])) return bad('origin_server_ts is not an integer');
  if (!isJsonObject(raw['hashes'])) return bad('hashes is not an object');
  if (!isJsonObject(raw['signatures'])) return bad('signatures is not an object');
  const event = raw as RoomEvent;
  return { ok: true, event: { ...event, event_id: eventIdOf(roomVersion, event) } };
}
