import type { MatrixEvent, MediaContent } from './events.js';

export interface GhostProfile {
  displayName?: string;
  avatarUrl?: string;
}

/** A user's presence as Matrix clients show it. */
export type PresenceState = 'online' | 'unavailable' | 'offline';

/** Ghost users: one Matrix user per remote identity, with the spec's reversible escaping. */
export interface GhostDirectory {
  /** `@<ghostPrefix><escaped remoteId>:<server>`; remoteId like `libera_alice` or `+14155550100`. */
  userIdFor(remoteId: string): string;
  /** The remote id of one of this bridge's ghosts, or null for any other user. */
  remoteIdOf(userId: string): string | null;
  /** An intent for the ghost: registered and joined on first use, profile kept in sync. */
  intent(remoteId: string, profile?: GhostProfile): Promise<Intent>;
}

/** Acts in Matrix as one user, over the Client-Server API with the as_token and `user_id`. */
export interface Intent {
  readonly userId: string;
  ensureRegistered(): Promise<void>;
  ensureJoined(roomId: string): Promise<void>;
  setProfile(profile: GhostProfile): Promise<void>;
  sendEvent(roomId: string, type: string, content: Record<string, unknown>, txnId?: string): Promise<string>;
  sendState(roomId: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<string>;
  createRoom(options: Record<string, unknown>): Promise<string>;
  invite(roomId: string, userId: string): Promise<void>;
  join(roomIdOrAlias: string): Promise<string>;
  leave(roomId: string, reason?: string): Promise<void>;
  kick(roomId: string, userId: string, reason?: string): Promise<void>;
  redact(roomId: string, eventId: string, reason?: string): Promise<void>;
  setTyping(roomId: string, typing: boolean, timeoutMs?: number): Promise<void>;
  /**
   * The user's presence (`PUT /presence/{userId}/status`): a ghost keeps what the bridge sets until it
   * sets something else, so bridges set offline when the remote user leaves. `statusMsg` undefined keeps
   * the current message.
   */
  setPresence(presence: PresenceState, statusMsg?: string): Promise<void>;
  createAlias(alias: string, roomId: string): Promise<void>;
  resolveAlias(alias: string): Promise<string | null>;
  getStateEvent(roomId: string, type: string, stateKey: string): Promise<Record<string, unknown> | null>;
  /**
   * One event of a room as this user may see it (`GET /rooms/{roomId}/event/{eventId}`), or null when the
   * homeserver does not have it (M_NOT_FOUND). What replies and edits need once in-memory caches are gone.
   */
  getEvent(roomId: string, eventId: string): Promise<MatrixEvent | null>;
  joinedMembers(roomId: string): Promise<Record<string, { display_name?: string; avatar_url?: string }>>;
  getProfile(userId: string): Promise<GhostProfile>;
  uploadMedia(bytes: Uint8Array, mimetype: string, filename: string): Promise<string>;
  downloadMedia(mxcUri: string): Promise<MediaContent>;
}
