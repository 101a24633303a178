// Transaction IDs are scoped to one device and one request path (spec: "a single device, and a single
// HTTP endpoint"): txnKeyOf names the device, TxnScope the path. Appservice users without a device share
// their appservice's scope per user, so two ghosts never collide on the same txnId.
import { createHash } from 'node:crypto';
import type { Requester } from '../contracts.js';

export function txnKeyOf(r: Requester): string {
  if (r.deviceId) return `${r.userId}|d:${r.deviceId}`;
  if (r.appserviceId) return `${r.userId}|as:${r.appserviceId}`;
  return `${r.userId}|t:${createHash('sha256').update(r.accessToken).digest('base64url').slice(0, 16)}`;
}

/**
 * The path of an idempotent request without its version prefix (r0 and v3 are one endpoint) and its
 * txnId, as a JSON array: the same text SQLite's json_array() gives, which migration 5 relies on.
 */
export const TxnScope = {
  send: (roomId: string, eventType: string): string => JSON.stringify(['send', roomId, eventType]),
  redact: (roomId: string, eventId: string): string => JSON.stringify(['redact', roomId, eventId]),
  toDevice: (eventType: string): string => JSON.stringify(['to_device', eventType]),
};

/** One idempotent request: who (device), where (path) and its txnId. */
export interface TxnRef {
  key: string;
  scope: string;
  id: string;
}
