// The redaction algorithm over a whole event (v10: the v9 rules; v11 keeps less at the top level and
// more in content). Signatures and reference hashes are computed over this redacted form.
import { redactContent } from '../../rooms/Redaction.js';
import type { RoomVersion } from '../../rooms/RoomVersions.js';

const KEPT_TOP_LEVEL: Record<RoomVersion, ReadonlySet<string>> = {
  '10': new Set([
    'event_id', 'type', 'room_id', 'sender', 'state_key', 'content', 'hashes', 'signatures', 'depth',
    'prev_events', 'prev_state', 'auth_events', 'origin', 'origin_server_ts', 'membership',
  ]),
  '11': new Set([
    'event_id', 'type', 'room_id', 'sender', 'state_key', 'content', 'hashes', 'signatures', 'depth',
    'prev_events', 'auth_events', 'origin_server_ts',
  ]),
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The event as the redaction algorithm leaves it (a new object; `event` is not changed). */
export function redactEvent(roomVersion: RoomVersion, event: Record<string, unknown>): Record<string, unknown> {
  const kept = KEPT_TOP_LEVEL[roomVersion];
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) if (kept.has(key)) out[key] = value;
  const type = typeof event['type'] === 'string' ? event['type'] : '';
  out['content'] = redactContent(roomVersion, type, isObject(event['content']) ? event['content'] : {});
  return out;
}
