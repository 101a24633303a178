import type { GhostProfile } from './intent.js';
import type { RemoteLocation } from './stores.js';

/** One remote->Matrix message. */
export interface OutboundMessage {
  /** Stable id of the remote message: the outbox derives the Matrix txnId from it, so a retry never posts twice. */
  remoteId: string;
  roomId: string;
  /**
   * The ghost that sends it (remote id), or null for the bridge itself: then the bot where it is in the
   * room, else one of the bridge's ghosts that is (a DM only a ghost was invited to), as ctx.notice does.
   */
  senderRemoteId: string | null;
  senderProfile?: GhostProfile;
  type: string;
  content: Record<string, unknown>;
  /** Original remote timestamp (ms), sent as the AS `ts` so history shows when it was really said. */
  timestamp?: number;
  /** Record the resulting event id under this remote location for later edits/replies. */
  mapAs?: RemoteLocation & { messageId: string };
}

/** Durable, per-room ordered remote->Matrix delivery; honours 429 `retry_after_ms`. */
export interface Outbox {
  /** Resolves once the message is durably queued (not yet sent). */
  enqueue(message: OutboundMessage): Promise<void>;
  /** Enqueues and resolves with the event id once the homeserver accepted it. */
  send(message: OutboundMessage): Promise<string>;
}
