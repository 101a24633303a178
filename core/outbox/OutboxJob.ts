import { createHash } from 'node:crypto';
import type { GhostProfile, RemoteLocation } from '../plugin-api/index.js';

/** One queued remote->Matrix message, as stored in the outbox (JSON in Redis). */
export interface OutboxJobData {
  bridge: string;
  roomId: string;
  remoteId: string;
  /** Derived from (bridge, room, remoteId): also the BullMQ job id and the Matrix transaction id. */
  txnId: string;
  /** The ghost's full user id, or null for the bridge bot. */
  senderUserId: string | null;
  senderProfile?: GhostProfile;
  type: string;
  content: Record<string, unknown>;
  timestamp?: number;
  mapAs?: RemoteLocation & { messageId: string };
}

/** What became of a message: kept in Redis for a while so `send()` callers and replays can see it. */
export type OutboxResult = { eventId: string } | { error: string };

/**
 * The Matrix transaction id of a remote message. The homeserver makes a repeated (user, txnId, room)
 * return the first event instead of posting again, so every retry and every replay of the same remote
 * message by the same ghost lands once. The room is part of the input because the same remote message
 * may legitimately go to two rooms (an email to two linked lists).
 */
export function outboxTxnId(bridge: string, roomId: string, remoteId: string): string {
  const digest = createHash('sha256').update(JSON.stringify([bridge, roomId, remoteId])).digest('base64url');
  return `pbo_${digest.slice(0, 40)}`;
}

export function isOutboxResult(value: unknown): value is OutboxResult {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.eventId === 'string' || typeof v.error === 'string';
}
