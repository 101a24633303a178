import type { ContentOf } from './content.js';
import type { GhostProfile } from './intent.js';
import type { RemoteLocation } from './stores.js';

/** One remote->Matrix message; for `type: 'm.room.message'` the content is typed (RoomMessageContent). */
export interface OutboundMessage<T extends string = string> {
  /** Stable id of the remote message: the outbox derives the Matrix txnId from it, so a retry never posts twice. */
  remoteId: string;
  roomId: string;
  /**
   * The ghost that sends it (remote id), or null for the bridge itself: then the bot where it is in the
   * room, else one of the bridge's ghosts that is (a DM only a ghost was invited to), as ctx.notice does.
   */
  senderRemoteId: string | null;
  senderProfile?: GhostProfile;
  type: T;
  content: ContentOf<T>;
  /** Original remote timestamp (ms), sent as the AS `ts` so history shows when it was really said. */
  timestamp?: number;
  /** Record the resulting event id under this remote location for later edits/replies. */
  mapAs?: RemoteLocation & { messageId: string };
}

/** Durable, per-room ordered remote->Matrix delivery; honours 429 `retry_after_ms`. */
export interface Outbox {
  /** Resolves once the message is durably queued (not yet sent). */
  enqueue<T extends string>(message: OutboundMessage<T>): Promise<void>;
  /** Enqueues and resolves with the event id once the homeserver accepted it. */
  send<T extends string>(message: OutboundMessage<T>): Promise<string>;
}
