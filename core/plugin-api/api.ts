// The plugin API: everything a bridge plugin sees of Patchbay. A bridge imports this file (and the
// types it re-exports) and nothing else from core/. Modelled on mautrix-go's bridgev2: one small required
// interface, and optional capabilities as extra interfaces the host detects at load time.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ClientEvent } from '../../matrix-types/index.js';

/** A Matrix room event as the host delivers it (the spec's ClientEvent, shared with the homeserver). */
export type MatrixEvent = ClientEvent;

/** Typing, receipts, presence (only for plugins implementing EphemeralHandler). */
export interface MatrixEphemeralEvent {
  type: string;
  room_id?: string;
  content: Record<string, unknown>;
}

/** JSON Schema (draft 2020-12) for a plugin's config section. */
export type JsonSchema = Record<string, unknown>;

/** Third-party protocol description, as `GET /thirdparty/protocol/{protocol}` returns it. */
export interface ThirdPartyProtocol {
  user_fields: string[];
  location_fields: string[];
  icon: string;
  field_types: Record<string, { regexp: string; placeholder: string }>;
  instances: Array<{ desc: string; icon?: string; fields: Record<string, string>; network_id: string }>;
}
export interface ThirdPartyUser {
  userid: string;
  protocol: string;
  fields: Record<string, string>;
}
export interface ThirdPartyLocation {
  alias: string;
  protocol: string;
  fields: Record<string, string>;
}

/** What a bridge declares about itself; its registration namespaces follow from the prefixes. */
export interface BridgeDescriptor {
  /** Protocol id: `irc`, `sip`, `email`; the third-party protocol name and the metrics/log label. */
  protocol: string;
  /** Localpart prefix of ghost users: `irc_` gives `@irc_libera_alice:server`. */
  ghostPrefix: string;
  /** Localpart prefix of portal aliases: `irc_` gives `#irc_libera_#chan:server`. */
  aliasPrefix: string;
  /** JSON Schema of the plugin's config section; validated once at startup. */
  configSchema?: JsonSchema;
}

/** Where an event sits in a conversation, worked out by the host from `m.relates_to`. */
export interface EventRelation {
  /** `m.replace` target (an edit). */
  replaces?: string;
  /** `m.in_reply_to` target. */
  inReplyTo?: string;
  /** `m.thread` root. */
  threadRoot?: string;
}

/** Per-event facts the host passes with each Matrix event. */
export interface EventContext {
  /** 1 on the first try; a plugin must be idempotent because delivery is at-least-once. */
  attempt: number;
  relation: EventRelation;
  /** True when the sender is one of this plugin's ghosts or its bot (echoes to ignore). */
  fromBridge: boolean;
  logger: Logger;
}

/** The required part of a bridge plugin. */
export interface BridgePlugin<Config = Record<string, unknown>> {
  readonly descriptor: BridgeDescriptor;
  start(ctx: BridgeContext<Config>): Promise<void>;
  stop(): Promise<void>;
  /**
   * One Matrix event from a room the bridge is interested in, called in room order. Throwing makes the
   * host retry the same event (later events of that room wait); after the configured tries it is
   * dead-lettered and a notice is posted in the room.
   */
  onMatrixEvent(event: MatrixEvent, ctx: EventContext): Promise<void>;
}

/** A plugin module's default export (or `createPlugin` export): built-ins and third-party packages alike. */
export type PluginFactory<Config = Record<string, unknown>> = () => BridgePlugin<Config>;

/**
 * The built-in bridges by config name (`bridges/registry.ts`), each imported only when enabled. `bin/`
 * hands it to the plugin loader, so core/ imports no bridge.
 */
export type BuiltinBridgeRegistry = Readonly<Record<string, () => Promise<PluginFactory<never>>>>;

// ---- Optional capabilities -------------------------------------------------------------------------

/** Answers the homeserver's "does this ghost exist?" (`GET /users/{userId}`): create it, return true. */
export interface UserQueryHandler {
  onUserQuery(userId: string): Promise<boolean>;
}
/** Answers "does this alias exist?" (`GET /rooms/{alias}`): create the portal room, return true. */
export interface AliasQueryHandler {
  onAliasQuery(alias: string): Promise<boolean>;
}
/** Third-party lookups, so a client can find a nick, a number or an address (`/thirdparty/*`). */
export interface ThirdPartyHandler {
  thirdPartyProtocol(): ThirdPartyProtocol;
  lookupThirdPartyUser(fields: Record<string, string>): Promise<ThirdPartyUser[]>;
  lookupThirdPartyLocation(fields: Record<string, string>): Promise<ThirdPartyLocation[]>;
  /**
   * Optional reverse lookups (`/thirdparty/user?userid=`, `/thirdparty/location?alias=`). Without them the
   * host answers from the identity map / ghost ids (fields `{id}`) and the room links (`{network, location}`).
   */
  thirdPartyUsersOf?(userId: string): Promise<ThirdPartyUser[]>;
  thirdPartyLocationsOf?(alias: string, roomId: string | null): Promise<ThirdPartyLocation[]>;
}
/** Typing, receipts and presence (needs `receive_ephemeral` in the registration). */
export interface EphemeralHandler {
  onEphemeralEvent(event: MatrixEphemeralEvent): Promise<void>;
}
/** Calls: the host routes `m.call.*` here instead of onMatrixEvent, with v0/v1 content normalised. */
export interface CallHandler {
  onCallEvent(event: MatrixCallEvent, ctx: EventContext): Promise<void>;
}
/** Attachments: the host fetches the media of m.image/m.file/m.audio/m.video and hands over the bytes. */
export interface AttachmentHandler {
  onAttachment(event: MatrixEvent, media: MediaContent, ctx: EventContext): Promise<void>;
}

export interface MatrixCallEvent extends MatrixEvent {
  call: {
    kind: 'invite' | 'answer' | 'candidates' | 'hangup' | 'reject' | 'select_answer' | 'negotiate' | 'other';
    callId: string;
    /** `0` for legacy calls, `'1'` otherwise. */
    version: 0 | '1';
    partyId: string | null;
  };
}

export interface MediaContent {
  mxcUri: string;
  bytes: Uint8Array;
  mimetype: string;
  filename: string;
}

// ---- What the host gives a plugin ---------------------------------------------------------------------

export interface BridgeContext<Config = Record<string, unknown>> {
  /** The plugin's validated config section. */
  readonly config: Config;
  readonly serverName: string;
  readonly logger: Logger;
  /** Create metrics here, named `patchbay_<protocol>_...`; they appear on the host's /metrics. */
  readonly metrics: Registry;
  /** The bridge's bot user (the registration's sender_localpart). */
  readonly bot: Intent;
  readonly ghosts: GhostDirectory;
  readonly identities: IdentityMap;
  readonly links: RoomLinks;
  readonly messages: MessageMap;
  readonly outbox: Outbox;
  /** A small durable key-value store in the plugin's own namespace. */
  readonly store: PluginStore;
  /**
   * Posts a visible m.notice, for anything that must not fail silently: from the bot where it is in the
   * room, otherwise from one of this bridge's ghosts that is (a DM only a ghost was invited to), and
   * failing those from the bot joining (a public room). Rejects only when none of them can post.
   */
  notice(roomId: string, text: string): Promise<void>;
  /**
   * False in a process that only answers the homeserver's queries and lookups (an ingest-only host with
   * separate workers): the plugin should not connect to its remote network there. Absent means true.
   */
  readonly connectRemote?: boolean;
}

/** Ghost users: one Matrix user per remote identity, with the spec's reversible escaping. */
export interface GhostDirectory {
  /** `@<ghostPrefix><escaped remoteId>:<server>`; remoteId like `libera_alice` or `+14155550100`. */
  userIdFor(remoteId: string): string;
  /** The remote id of one of this bridge's ghosts, or null for any other user. */
  remoteIdOf(userId: string): string | null;
  /** An intent for the ghost: registered and joined on first use, profile kept in sync. */
  intent(remoteId: string, profile?: GhostProfile): Promise<Intent>;
}

export interface GhostProfile {
  displayName?: string;
  avatarUrl?: string;
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

/** Third-party id <-> Matrix user id, for ghosts and for real Matrix users alike. */
export interface IdentityMap {
  set(protocol: string, thirdPartyId: string, userId: string): Promise<void>;
  userIdFor(protocol: string, thirdPartyId: string): Promise<string | null>;
  thirdPartyIdFor(protocol: string, userId: string): Promise<string | null>;
  remove(protocol: string, thirdPartyId: string): Promise<void>;
}

/** A place on the remote network: an IRC channel, a phone number, a mailbox or thread. */
export interface RemoteLocation {
  /** Network/instance, e.g. `libera`, the SIP trunk, the mail domain. */
  network: string;
  /** Channel, number, address or thread id within the network. */
  location: string;
}

/** One room <-> remote link with the data it was linked with. */
export interface RoomLink extends RemoteLocation {
  roomId: string;
  data: Record<string, string>;
}

export interface RoomLinks {
  link(roomId: string, remote: RemoteLocation, data?: Record<string, string>): Promise<void>;
  unlink(roomId: string, remote: RemoteLocation): Promise<void>;
  roomFor(remote: RemoteLocation): Promise<string | null>;
  remotesFor(roomId: string): Promise<Array<RemoteLocation & { data: Record<string, string> }>>;
  /**
   * Every link of the bridge (only those of `network` when given), sorted by network and location: what
   * a bridge rebuilds its rooms from at start, so it needs no index of its own.
   */
  all(network?: string): Promise<RoomLink[]>;
}

/** Remote message ids <-> Matrix event ids, for edits, replies, redactions and threads. */
export interface MessageMap {
  set(remote: RemoteLocation & { messageId: string }, roomId: string, eventId: string): Promise<void>;
  eventFor(remote: RemoteLocation & { messageId: string }): Promise<{ roomId: string; eventId: string } | null>;
  remoteFor(eventId: string): Promise<(RemoteLocation & { messageId: string }) | null>;
}

/** One remote->Matrix message. */
export interface OutboundMessage {
  /** Stable id of the remote message: the outbox derives the Matrix txnId from it, so a retry never posts twice. */
  remoteId: string;
  roomId: string;
  /** The ghost that sends it (remote id), or null for the bot. */
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

export interface PluginStore {
  get(key: string): Promise<string | null>;
  /** With `ttlSeconds` the key expires (for dedupe markers and caches). */
  set(key: string, value: string, ttlSeconds?: number): Promise<void>;
  /**
   * Sets the key only if it is absent; true when this call set it. The way to act once per event id:
   * `if (!(await store.setIfAbsent(`seen:${event.event_id}`, '1', 86400))) return;`
   */
  setIfAbsent(key: string, value: string, ttlSeconds?: number): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** Keys under a prefix, for rebuilding state on start. */
  keys(prefix: string): Promise<string[]>;
  /** Appends to a durable ordered list (its own namespace, apart from the keys); returns the new length. */
  append(list: string, value: string): Promise<number>;
  /**
   * Appends unless `uniqueId` was appended to this list before, in one atomic step: true when it appended.
   * Records something exactly once even though events arrive at least once.
   */
  appendOnce(list: string, uniqueId: string, value: string): Promise<boolean>;
  /** Items of a list, `start`..`stop` inclusive (negative counts from the end; default all). */
  readList(list: string, start?: number, stop?: number): Promise<string[]>;
}
