import type { ValidTransaction } from '../ingest/ValidTransaction.js';
import type { MatrixEphemeralEvent, MatrixEvent } from '../plugin-api/index.js';
import { AppserviceApiError } from './AppserviceApiError.js';

const REQUIRED_STRINGS = ['event_id', 'room_id', 'type', 'sender'] as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function bad(message: string): AppserviceApiError {
  return new AppserviceApiError(400, 'M_BAD_JSON', message, 'bad_json');
}

/**
 * Checks a `PUT /transactions/{txnId}` body before anything is stored: `events` must be an array of
 * ClientEvents (event_id, room_id, type, sender as non-empty strings, content an object), `ephemeral`
 * (or the unstable `de.sorunome.msc2409.ephemeral`), when present, an array of objects with a `type`.
 * The first problem is named in the M_BAD_JSON message; a bad transaction is refused whole.
 */
export function validateTransaction(body: unknown): ValidTransaction {
  if (!isObject(body)) throw bad('the transaction must be a JSON object');
  const events = body['events'];
  if (!Array.isArray(events)) throw bad('the transaction has no "events" array');
  for (let i = 0; i < events.length; i++) {
    const event: unknown = events[i];
    if (!isObject(event)) throw bad(`events[${i}] is not an object`);
    for (const key of REQUIRED_STRINGS) {
      const value = event[key];
      if (typeof value !== 'string' || value.length === 0) throw bad(`events[${i}].${key} must be a non-empty string`);
    }
    if (!isObject(event['content'])) throw bad(`events[${i}].content must be an object`);
    const ts = event['origin_server_ts'];
    if (ts !== undefined && typeof ts !== 'number') throw bad(`events[${i}].origin_server_ts must be a number`);
    const stateKey = event['state_key'];
    if (stateKey !== undefined && typeof stateKey !== 'string') throw bad(`events[${i}].state_key must be a string`);
  }
  const ephemeralKey = body['ephemeral'] !== undefined ? 'ephemeral' : 'de.sorunome.msc2409.ephemeral';
  const ephemeral = body[ephemeralKey] ?? [];
  if (!Array.isArray(ephemeral)) throw bad(`"${ephemeralKey}" must be an array`);
  for (let i = 0; i < ephemeral.length; i++) {
    const edu: unknown = ephemeral[i];
    if (!isObject(edu)) throw bad(`${ephemeralKey}[${i}] is not an object`);
    if (typeof edu['type'] !== 'string') throw bad(`${ephemeralKey}[${i}].type must be a string`);
    if (!isObject(edu['content'])) throw bad(`${ephemeralKey}[${i}].content must be an object`);
    if (edu['room_id'] !== undefined && typeof edu['room_id'] !== 'string') throw bad(`${ephemeralKey}[${i}].room_id must be a string`);
  }
  return { events: events as MatrixEvent[], ephemeral: ephemeral as MatrixEphemeralEvent[] };
}
