// Transaction IDs are scoped per device (spec: "per device"); appservice users without a device share
// their appservice's scope per user, so two ghosts never collide on the same txnId.
import { createHash } from 'node:crypto';
import type { Requester } from '../contracts.js';

export function txnKeyOf(r: Requester): string {
  if (r.deviceId) return `${r.userId}|d:${r.deviceId}`;
  if (r.appserviceId) return `${r.userId}|as:${r.appserviceId}`;
  return `${r.userId}|t:${createHash('sha256').update(r.accessToken).digest('base64url').slice(0, 16)}`;
}
