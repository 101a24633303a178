import type { BridgeContext, EventContext } from './context.js';
import type { MatrixCallEvent, MatrixEphemeralEvent, MatrixEvent, MediaContent } from './events.js';
import type { RemoteLocation } from './stores.js';
import type { ThirdPartyLocation, ThirdPartyProtocol, ThirdPartyUser } from './thirdparty.js';

/** JSON Schema (draft 2020-12) for a plugin's config section. */
export type JsonSchema = Record<string, unknown>;

/** What a bridge declares about itself; its registration namespaces follow from the prefixes. */
export interface BridgeDescriptor {
  /** Protocol id: `irc`, `sip`, `email`; the third-party protocol name and the metrics/log label. */
  protocol: string;
  /** What users call the remote side, in notices the host posts for the bridge ("IRC", "phones", "email"). Default: `protocol`. */
  networkName?: string;
  /** Localpart prefix of ghost users: `irc_` gives `@irc_libera_alice:server`. */
  ghostPrefix: string;
  /** Localpart prefix of portal aliases: `irc_` gives `#irc_libera_#chan:server`. */
  aliasPrefix: string;
  /** JSON Schema of the plugin's config section; validated once at startup. */
  configSchema?: JsonSchema;
  /**
   * URL paths beyond `/_patchbay/bridges/<name>` the bridge serves routes under (`/_matrix/provision/v1`
   * for a provisioning API). Checked at startup: none may overlap the host's own paths or another
   * bridge's.
   */
  httpPrefixes?: string[];
  /**
   * Third-party protocol ids the bridge also answers `/thirdparty/*` lookups for, beside `protocol`:
   * clients look some networks up by a well-known name (Element finds phone dialling through
   * `m.protocol.pstn`). Listed in the registration's `protocols` with `protocol`; no two bridges may share one.
   */
  thirdPartyProtocols?: string[];
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

// ---- Optional capabilities: the host detects each by its methods -----------------------------------

/** Answers the homeserver's "does this ghost exist?" (`GET /users/{userId}`): create it, return true. */
export interface UserQueryHandler {
  onUserQuery(userId: string): Promise<boolean>;
}

/** Answers "does this alias exist?" (`GET /rooms/{alias}`): create the portal room, return true. */
export interface AliasQueryHandler {
  onAliasQuery(alias: string): Promise<boolean>;
}

/**
 * Third-party lookups, so a client can find a nick, a number or an address (`/thirdparty/*`). `protocol`
 * is the id the client asked about: the descriptor's `protocol` or one of its `thirdPartyProtocols`.
 */
export interface ThirdPartyHandler {
  thirdPartyProtocol(protocol: string): ThirdPartyProtocol;
  lookupThirdPartyUser(fields: Record<string, string>, protocol: string): Promise<ThirdPartyUser[]>;
  lookupThirdPartyLocation(fields: Record<string, string>, protocol: string): Promise<ThirdPartyLocation[]>;
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

/** A room the bridge is in was replaced by a new one (a room upgrade: `m.room.tombstone` in the old room). */
export interface RoomUpgrade {
  oldRoomId: string;
  newRoomId: string;
  /** The old room's links, already moved to the new room by the host (the bridge's users joined to the old room joined it). */
  links: Array<RemoteLocation & { data: Record<string, string> }>;
  /** The tombstone event. */
  tombstone: MatrixEvent;
}

/**
 * Room upgrades: the host moves the old room's links to the new room (the bridge's users joined to the old
 * room join it), then calls this (instead of onMatrixEvent with the tombstone), so the bridge can move
 * what it keeps per room. Delivered in the old room's order and at least once, like any event: make it
 * idempotent.
 */
export interface RoomUpgradeHandler {
  onRoomUpgraded(upgrade: RoomUpgrade, ctx: EventContext): Promise<void>;
}
