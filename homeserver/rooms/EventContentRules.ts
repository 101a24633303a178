// Shape checks on event content that the spec turns into 400s before auth rules run: a client that sends a
// string power level or a membership without `membership` gets M_BAD_JSON, not a silently broken room.
import { MatrixError } from '../MatrixError.js';
import type { NewEvent } from '../events/EventStore.js';
import { isValidUserId } from '../ids/MatrixIds.js';

/** Longest event type and state_key, in bytes. */
export const MAX_KEY_BYTES = 255;
const MEMBERSHIPS = new Set(['join', 'invite', 'leave', 'ban', 'knock']);
const PL_NUMBERS = ['ban', 'events_default', 'invite', 'kick', 'redact', 'state_default', 'users_default'];

function bad(message: string): never {
  throw new MatrixError(400, 'M_BAD_JSON', message);
}

function isIntegerLevel(v: unknown): boolean {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

function checkLevelMap(v: unknown, what: string, keyCheck?: (k: string) => boolean): void {
  if (v === undefined) return;
  if (!v || typeof v !== 'object' || Array.isArray(v)) bad(`${what} must be an object`);
  for (const [k, level] of Object.entries(v as Record<string, unknown>)) {
    if (!isIntegerLevel(level)) bad(`${what}.${k} must be an integer`);
    if (keyCheck && !keyCheck(k)) bad(`${what} has an invalid key ${JSON.stringify(k)}`);
  }
}

export function checkEventContent(type: string, stateKey: string | undefined, content: Record<string, unknown>): void {
  switch (type) {
    case 'm.room.member':
      if (stateKey === undefined || !isValidUserId(stateKey)) bad('m.room.member needs a user ID as state key');
      if (typeof content['membership'] !== 'string' || !MEMBERSHIPS.has(content['membership'])) {
        bad('m.room.member content needs a valid "membership"');
      }
      break;
    case 'm.room.power_levels':
      for (const key of PL_NUMBERS) {
        if (key in content && !isIntegerLevel(content[key])) bad(`power level "${key}" must be an integer`);
      }
      checkLevelMap(content['events'], 'events');
      checkLevelMap(content['users'], 'users', isValidUserId);
      checkLevelMap(content['notifications'], 'notifications');
      break;
    case 'm.room.join_rules':
      if (typeof content['join_rule'] !== 'string') bad('m.room.join_rules needs a "join_rule" string');
      break;
    case 'm.room.history_visibility':
      if (typeof content['history_visibility'] !== 'string') bad('m.room.history_visibility needs a "history_visibility" string');
      break;
    case 'm.room.name':
      if ('name' in content && typeof content['name'] !== 'string') bad('m.room.name "name" must be a string');
      break;
    case 'm.room.topic':
      if ('topic' in content && typeof content['topic'] !== 'string') bad('m.room.topic "topic" must be a string');
      break;
    default:
      break;
  }
}

/**
 * The spec's limits on type and state_key: at most 255 bytes each. The limit on the whole event (65,536
 * bytes of the signed PDU as canonical JSON) is checked when the store has made the PDU (LocalPdu.ts).
 */
export function checkEventLimits(ev: NewEvent): void {
  if (Buffer.byteLength(ev.type) > MAX_KEY_BYTES) bad(`Event type is longer than ${MAX_KEY_BYTES} bytes`);
  if (ev.state_key !== undefined && Buffer.byteLength(ev.state_key) > MAX_KEY_BYTES) bad(`state_key is longer than ${MAX_KEY_BYTES} bytes`);
}

/**
 * Canonical JSON allows only integers within ±(2^53−1) as numbers: a fraction (or NaN/Infinity) in
 * event content is refused with the path to it, rather than stored and signed differently elsewhere.
 */
export function checkCanonicalNumbers(content: Record<string, unknown>): void {
  const stack: Array<[unknown, string]> = [[content, 'content']];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'number') {
      if (!Number.isSafeInteger(value)) bad(`${path} is ${value}: numbers in events must be integers within ±(2^53−1)`);
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => stack.push([v, `${path}[${i}]`]));
    } else if (typeof value === 'object' && value !== null) {
      for (const [k, v] of Object.entries(value)) stack.push([v, `${path}.${k}`]);
    }
  }
}
