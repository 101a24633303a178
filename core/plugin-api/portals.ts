import type { GhostProfile } from './intent.js';
import type { RemoteLocation } from './stores.js';

/** What a portal is the room of: a shared place, or one Matrix user's conversation there (`receiver`). */
export type PortalKey = RemoteLocation;

/** Power levels of a new portal, over the homeserver's defaults (the bot always keeps 100). */
export interface PortalPowerLevels {
  /** Per user: `{ '@alice:example.org': 50 }`. */
  users?: Record<string, number>;
  users_default?: number;
  /** Per event type: `{ 'm.room.name': 100 }`. */
  events?: Record<string, number>;
  events_default?: number;
  state_default?: number;
  invite?: number;
  kick?: number;
  ban?: number;
  redact?: number;
}

/**
 * The per-event levels homeservers give a new room (Synapse's and the embedded one's). A power level
 * override replaces `events` whole, so a bridge that changes one entry spreads these first. Turning
 * encryption on stays an admin's: a bridge cannot decrypt, so an encrypted portal stops bridging.
 */
export const USUAL_EVENT_LEVELS: Readonly<Record<string, number>> = {
  'm.room.name': 50,
  'm.room.power_levels': 100,
  'm.room.history_visibility': 100,
  'm.room.canonical_alias': 50,
  'm.room.avatar': 50,
  'm.room.tombstone': 100,
  'm.room.server_acl': 100,
  'm.room.encryption': 100,
};

/** How a new portal room is made. Everything is optional. */
export interface PortalSpec {
  name?: string;
  topic?: string;
  /** An `mxc://` URI (upload it with `intent.uploadMedia` first). */
  avatarUrl?: string;
  /** The part after the bridge's alias prefix: `lobby` gives `#<aliasPrefix>lobby:<server>`. */
  alias?: string;
  /** `public`: anyone may join; `invite`: only the invited. Default: `invite` with a receiver, else `public`. */
  joinRule?: 'public' | 'invite';
  /** Matrix users invited when it is made (the receiver always is). */
  invite?: string[];
  /** Ghosts that join it when it is made: the correspondent of a conversation, a channel's members. */
  ghosts?: Array<{ remoteId: string; profile?: GhostProfile }>;
  /** A ghost that creates the room instead of the bot, so a DM comes from the correspondent. The bot is invited and joins. */
  creator?: { remoteId: string; profile?: GhostProfile };
  powerLevels?: PortalPowerLevels;
  /** Invites marked as a direct chat (`is_direct`). Default: true with a receiver and no alias. */
  direct?: boolean;
  /** Data kept with the room link (`ctx.links.remotesFor(roomId)` returns it). */
  data?: Record<string, string>;
}

export interface Portal {
  key: PortalKey;
  roomId: string;
  /** True when this call made the room; false when it existed (made here or by another worker). */
  created: boolean;
}

/**
 * The rooms of remote places, owned by the framework. `ensure` finds a place's room or makes it, exactly
 * once however many workers ask at the same time, and links it (so its events reach the bridge).
 */
export interface Portals {
  /**
   * The portal of `key`: the linked room, or a new one made as `spec` says (a function is called only
   * when the room is made). Safe to call for every message: after the first it is one Redis read.
   */
  ensure(key: PortalKey, spec?: PortalSpec | (() => PortalSpec | Promise<PortalSpec>)): Promise<Portal>;
  /** The portal's room, or null when it has none. */
  roomFor(key: PortalKey): Promise<string | null>;
  /** `#<aliasPrefix><name>:<server>`. */
  aliasFor(name: string): string;
  /** Sets the portal room's name, topic or avatar where they differ from what the room has. */
  update(key: PortalKey, changes: Pick<PortalSpec, 'name' | 'topic' | 'avatarUrl'>): Promise<void>;
}
