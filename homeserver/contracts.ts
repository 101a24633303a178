// The seams inside homeserver/: the room core (Client-Server API, storage, sync) and the appservice
// side (homeserver/appservice/) meet only through these types, so each can be read and tested alone.
import type { StorageOptions } from './storage/Database.js';
import type { SqlDatabase } from './storage/SqlDatabase.js';
import type { Router } from 'express';
import type { Logger } from 'pino';
import type { ConnectionsConfig, RateLimitsConfig } from '../config/index.js';
import type { RouteInfo } from './http/RouteListing.js';
import type { FederationOptions } from './federation/Federation.js';
import type { ClientEvent } from '../matrix-types/index.js';
export type { ClientEvent } from '../matrix-types/index.js';

/** Stripped state, as carried in `invite_room_state`. */
export interface StrippedStateEvent {
  type: string;
  state_key: string;
  sender: string;
  content: Record<string, unknown>;
}

/** Typing, receipts and presence, as an appservice receives them in `ephemeral`. */
export interface EphemeralEvent {
  type: 'm.typing' | 'm.receipt' | 'm.presence';
  room_id?: string;
  sender?: string;
  content: Record<string, unknown>;
}

/** Who a request acts as, once authenticated. */
export interface Requester {
  userId: string;
  deviceId: string | null;
  /** Set when the request authenticated with an appservice's as_token. */
  appserviceId: string | null;
  accessToken: string;
  /** False for an appservice's sender, and for users an appservice with `rate_limited: false` acts as. */
  rateLimited: boolean;
}

/** The persisted room event stream, read by the appservice sender (owned by the room core). */
export interface EventStream {
  /** Highest stream position persisted so far (0 when empty). */
  head(): number;
  /** Events with stream position > `after`, ascending, at most `limit`. */
  readAfter(after: number, limit: number): Array<{ pos: number; event: ClientEvent }>;
  /** Called after each commit that appended events; returns an unsubscribe function. */
  onAppend(listener: () => void): () => void;
  /** Local users whose membership in the room is `join`. */
  joinedLocalMembers(roomId: string): string[];
  /** Aliases that point at the room (canonical and alt aliases and the directory). */
  aliasesOf(roomId: string): string[];
  /** The stripped state sent with invites (create, join rules, name, avatar, canonical alias, encryption). */
  strippedState(roomId: string): StrippedStateEvent[];
}

/** A to-device message as an appservice receives it (MSC4203): the recipient is named in it. */
export interface AppserviceToDeviceMessage {
  to_user_id: string;
  to_device_id: string;
  sender: string;
  type: string;
  content: Record<string, unknown>;
}

/** One device's key counts, as MSC3202 reports them to appservices. */
export interface DeviceKeyCounts {
  deviceId: string;
  oneTimeKeyCounts: Record<string, number>;
  unusedFallbackKeyTypes: string[];
}

/**
 * What the appservice side reads for appservices that take part in end-to-end encryption (MSC2409's
 * to-device messages, MSC3202's device lists and key counts). Owned by the room core; positions are on
 * the same stream as events.
 */
export interface EncryptionStream {
  /** Queued to-device messages after `after`, in stream order, at most `limit`. */
  toDeviceAfter(after: number, limit: number): Array<{ pos: number; message: AppserviceToDeviceMessage }>;
  /** Deletes to-device messages an appservice took for its users (called inside the transaction storing them). */
  deleteToDevice(positions: number[]): void;
  /** Users whose devices or keys changed after `after`, oldest first; `observer` set: only that user may know. */
  deviceListChangesAfter(after: number, limit: number): Array<{ pos: number; userId: string; observer: string | null }>;
  /** Rooms the user is joined to. */
  joinedRooms(userId: string): string[];
  /** Key counts of each of the user's devices. */
  deviceKeyCounts(userId: string): DeviceKeyCounts[];
  /** The stream's current position. */
  head(): number;
  /** Called after to-device messages were queued or a device list changed; returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
}

/** Local user accounts, as the appservice side needs them. */
export interface UserDirectory {
  exists(userId: string): boolean;
  hasDevice(userId: string, deviceId: string): boolean;
}

/** What the room core asks of the appservice side. */
export interface AppserviceGateway {
  /**
   * Resolves a request made with an as_token (identity assertion via `user_id`/`device_id`), or returns
   * null when the token belongs to no appservice. Throws MatrixError (M_FORBIDDEN, M_UNKNOWN_DEVICE ...).
   */
  authenticate(token: string, assertedUserId: string | undefined, assertedDeviceId: string | undefined): Requester | null;
  /** The appservice whose users namespace (or sender) covers this user, if any; `sender` when it is that appservice's sender. */
  appserviceForUser(userId: string): { id: string; exclusive: boolean; sender: boolean } | null;
  /** True when an appservice other than `exceptAppserviceId` holds the user in an exclusive namespace. */
  isExclusiveUser(userId: string, exceptAppserviceId?: string | null): boolean;
  isExclusiveAlias(alias: string, exceptAppserviceId?: string | null): boolean;
  /** Asks the owning appservice (GET /users/{userId}); true when it answered 200 (it created the user). */
  queryUser(userId: string): Promise<boolean>;
  /** Asks the owning appservice (GET /rooms/{alias}); true when it answered 200 (it created the alias). */
  queryAlias(alias: string): Promise<boolean>;
  /** Typing, receipts and presence for appservices with receive_ephemeral. */
  pushEphemeral(event: EphemeralEvent): void;
}

export interface AppserviceServiceDeps {
  db: SqlDatabase;
  serverName: string;
  stream: EventStream;
  encryption: EncryptionStream;
  users: UserDirectory;
  /** Registration files (YAML) to load; reloaded by reload() without a restart. */
  registrationFiles: string[];
  /** Backoff of the transaction sender; tests shorten it. */
  retry: { initialMs: number; maxMs: number };
  logger: Logger;
}

/** The appservice side as the room core composes it (homeserver/appservice/index.ts creates it). */
export interface AppserviceService extends AppserviceGateway {
  /**
   * Client-Server routes the appservice side owns (thirdparty lookups, appservice ping). Mounted by the
   * room core under each client prefix behind its auth middleware, which sets `res.locals.requester`.
   */
  readonly clientRouter: Router;
  /** Protocol instances an appservice declared, keyed `<appservice id>|<network_id>`: for publicRooms. */
  hasNetwork(instanceId: string): boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Re-reads the registration files; rejects (keeping the old set) if any is invalid. */
  reload(): Promise<void>;
}

export interface TurnOptions {
  uris: string[];
  username?: string;
  password?: string;
  /** With a shared secret, credentials are minted per user as coturn's `use-auth-secret` expects. */
  sharedSecret?: string;
  ttlSeconds: number;
}

/** Everything the homeserver needs; bin/ builds it from the validated config. */
export interface HomeserverOptions {
  serverName: string;
  bind: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** Base URL clients are told in .well-known; defaults to http://bind:port. */
  publicBaseUrl?: string;
  /** `driver` picks the SQLite driver (default: PATCHBAY_SQLITE_DRIVER, else the best this Node has). */
  storage: StorageOptions;
  /** Where uploaded media is kept for sqlite storage; memory storage keeps media in memory. */
  mediaDir?: string;
  maxBodyBytes: number;
  maxUploadBytes: number;
  registrationEnabled: boolean;
  appserviceConfigFiles: string[];
  appserviceRetry?: { initialMs: number; maxMs: number };
  turn?: TurnOptions;
  /** homeserver.trusted_proxies: whose X-Forwarded-For names the client. */
  trustedProxies: string[];
  /** homeserver.connections, as configured. */
  connections: ConnectionsConfig;
  /** homeserver.rate_limits, as configured. */
  rateLimits: RateLimitsConfig;
  /** homeserver.e2ee: what .well-known advertises as `io.element.e2ee` (nothing when absent). */
  e2ee?: { default: boolean; forceDisable: boolean };
  /** homeserver.push: where pushers may post, and how failed posts are retried (1 s doubling to 10 min when absent). */
  push?: { allowPrivateGateways: boolean; retry: { initialMs: number; maxMs: number } };
  /** homeserver.presence: when syncing users go unavailable and offline (5 min and 30 s when absent). */
  presence?: { idleMs: number; offlineMs: number };
  /**
   * homeserver.federation.signing_key: the server's signing key file (Synapse's format; made, 0600, when
   * missing), loaded at every start since every event is signed with it. Absent: `federation_signing.key`
   * beside the database, or a key in memory only for storage: memory.
   */
  signingKeyFile?: string;
  /** homeserver.federation when enabled: keys, discovery, X-Matrix (absent: no federation endpoints). */
  federation?: FederationOptions;
  /**
   * homeserver.federation.listener with a port: /_matrix/federation and /_matrix/key are served on a
   * listener of their own and answer 404 on `port`. Absent: both on `port`. Used only with `federation`.
   */
  federationListener?: { bind: string; port: number };
  logger: Logger;
}

export interface RunningHomeserver {
  /** http://host:port actually bound. */
  readonly url: string;
  readonly port: number;
  /** Where other servers reach /_matrix/federation and /_matrix/key: `port`, or the federation listener's; null without federation. */
  readonly federationPort: number | null;
  reloadAppservices(): Promise<void>;
  /** Every route the HTTP API answers (method and path pattern). */
  routes(): RouteInfo[];
  stop(): Promise<void>;
}
