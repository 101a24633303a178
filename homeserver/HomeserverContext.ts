// The services one running homeserver is made of, as the route modules see them.
import type { SqlDatabase } from './storage/SqlDatabase.js';
import type { Logger } from 'pino';
import type { AccountDataStore } from './accounts/AccountDataStore.js';
import type { AccountStore } from './accounts/AccountStore.js';
import type { DeviceActivity } from './accounts/DeviceActivity.js';
import type { OpenIdTokens } from './accounts/OpenIdTokens.js';
import type { AppserviceService, HomeserverOptions } from './contracts.js';
import type { EphemeralCounter } from './ephemeral/EphemeralCounter.js';
import type { PresenceTracker } from './ephemeral/PresenceTracker.js';
import type { ReceiptStore } from './ephemeral/ReceiptStore.js';
import type { ToDeviceInbox } from './ephemeral/ToDeviceInbox.js';
import type { TypingTracker } from './ephemeral/TypingTracker.js';
import type { ClientEventFormatter } from './events/ClientEventFormatter.js';
import type { EventStore } from './events/EventStore.js';
import type { AccessTokenAuth } from './http/AccessTokenAuth.js';
import type { MediaStore } from './media/MediaStore.js';
import type { PushRuleStore } from './push/PushRuleStore.js';
import type { PushActionStore } from './push/PushActionStore.js';
import type { PusherStore } from './push/PusherStore.js';
import type { PushSender } from './push/PushSender.js';
import type { EntityResolver } from './rooms/EntityResolver.js';
import type { MembershipService } from './rooms/MembershipService.js';
import type { RoomCreator } from './rooms/RoomCreator.js';
import type { RoomUpgrader } from './rooms/RoomUpgrader.js';
import type { RoomDirectory } from './rooms/RoomDirectory.js';
import type { RoomEventService } from './rooms/RoomEventService.js';
import type { HistoryVisibility } from './rooms/HistoryVisibility.js';
import type { StreamCounter } from './storage/StreamCounter.js';
import type { FilterStore } from './sync/FilterStore.js';
import type { SyncHandler } from './sync/SyncHandler.js';
import type { SyncNotifier } from './sync/SyncNotifier.js';
import type { UiaSessions } from './accounts/UiaSessions.js';
import type { UserInteractiveAuth } from './accounts/UserInteractiveAuth.js';
import type { DeviceDeletion } from './accounts/DeviceDeletion.js';
import type { E2eeStores } from './e2ee/E2eeStores.js';
import type { HomeserverMetrics } from './HomeserverMetrics.js';
import type { RateLimits } from './limits/RateLimits.js';
import type { Relations } from './relations/Relations.js';
import type { Federation } from './federation/Federation.js';
import type { FederationSender } from './federation/send/FederationSender.js';
import type { RemoteMembership } from './federation/membership/RemoteMembership.js';
import type { RoomBackfill } from './federation/receive/RoomBackfill.js';
import type { OutboundEdus } from './federation/send/OutboundEdus.js';
import type { RoomSearch } from './search/RoomSearch.js';
import type { UserDirectory } from './search/UserDirectory.js';

export interface HomeserverContext {
  options: HomeserverOptions;
  serverName: string;
  baseUrl: () => string;
  logger: Logger;
  db: SqlDatabase;
  counter: StreamCounter;
  ephemeralCounter: EphemeralCounter;
  accounts: AccountStore;
  deviceActivity: DeviceActivity;
  openid: OpenIdTokens;
  uia: UiaSessions;
  /** The password check that device deletion and cross-signing key replacement ask for. */
  uiAuth: UserInteractiveAuth;
  deviceDeletion: DeviceDeletion;
  e2ee: E2eeStores;
  accountData: AccountDataStore;
  events: EventStore;
  formatter: ClientEventFormatter;
  directory: RoomDirectory;
  resolver: EntityResolver;
  memberships: MembershipService;
  roomEvents: RoomEventService;
  history: HistoryVisibility;
  relations: Relations;
  search: RoomSearch;
  userDirectory: UserDirectory;
  creator: RoomCreator;
  upgrader: RoomUpgrader;
  typing: TypingTracker;
  receipts: ReceiptStore;
  toDevice: ToDeviceInbox;
  presence: PresenceTracker;
  pushRules: PushRuleStore;
  pushActions: PushActionStore;
  pushers: PusherStore;
  pushSender: PushSender;
  filters: FilterStore;
  notifier: SyncNotifier;
  sync: SyncHandler;
  media: MediaStore;
  auth: AccessTokenAuth;
  appservice: AppserviceService;
  metrics: HomeserverMetrics;
  limits: RateLimits;
  /** Set when homeserver.federation.enabled. */
  federation: Federation | null;
  /**
   * The durable per-destination queue (set when homeserver.federation.enabled): `onLocalEvents` for new
   * PDUs, `wake(server)` when a server is seen alive.
   */
  federationSender: FederationSender | null;
  /** Joining and leaving rooms through other servers; set when homeserver.federation.enabled. */
  remoteMembership: RemoteMembership | null;
  /** Earlier history of rooms other servers are in, for /messages; set when homeserver.federation.enabled. */
  roomBackfill: RoomBackfill | null;
  /** Typing, receipts, presence and to-device for remote servers; set when homeserver.federation.enabled. */
  federationEdus: OutboundEdus | null;
}
