// The embedded homeserver: storage, the room core, the appservice side and the HTTP server, composed.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AccountDataStore } from './accounts/AccountDataStore.js';
import { AccountStore } from './accounts/AccountStore.js';
import { DeviceActivity } from './accounts/DeviceActivity.js';
import { OpenIdTokens } from './accounts/OpenIdTokens.js';
import { UiaSessions } from './accounts/UiaSessions.js';
import { UserInteractiveAuth } from './accounts/UserInteractiveAuth.js';
import { DeviceDeletion } from './accounts/DeviceDeletion.js';
import { openE2eeStores } from './e2ee/E2eeStores.js';
import { appserviceEncryptionFeed } from './e2ee/AppserviceEncryptionFeed.js';
import { createAppserviceService } from './appservice/index.js';
import type { AppserviceService, HomeserverOptions, RunningHomeserver } from './contracts.js';
import { EphemeralCounter } from './ephemeral/EphemeralCounter.js';
import { PresenceTracker, type PresenceRecord } from './ephemeral/PresenceTracker.js';
import { homeserverMetrics } from './HomeserverMetrics.js';
import { ReceiptStore } from './ephemeral/ReceiptStore.js';
import { ToDeviceInbox } from './ephemeral/ToDeviceInbox.js';
import type { DeviceListChange } from './e2ee/DeviceListStream.js';
import { TypingTracker } from './ephemeral/TypingTracker.js';
import { ClientEventFormatter } from './events/ClientEventFormatter.js';
import { EventStore } from './events/EventStore.js';
import { upgradeLegacyRooms } from './events/LegacyPduUpgrade.js';
import { LocalEventSigner } from './federation/pdu/LocalEventSigner.js';
import { serverSigningKeys } from './federation/keys/ServerSigningKeys.js';
import { RoomEventStream } from './events/RoomEventStream.js';
import type { HomeserverContext } from './HomeserverContext.js';
import { AccessTokenAuth } from './http/AccessTokenAuth.js';
import { buildClientApp } from './routes/index.js';
import { buildFederationApp } from './routes/federationApp.js';
import { ClientConnections } from './http/ClientConnections.js';
import { trustedProxies } from './http/TrustedProxies.js';
import { RateLimits } from './limits/RateLimits.js';
import { listRoutes } from './http/RouteListing.js';
import { FileBlobStore, MemoryBlobStore } from './media/BlobStore.js';
import { MediaStore } from './media/MediaStore.js';
import { PushActionRecorder } from './push/PushActionRecorder.js';
import { PushActionStore } from './push/PushActionStore.js';
import { PushRuleStore } from './push/PushRuleStore.js';
import { UnreadCounter } from './push/UnreadCounter.js';
import { PusherStore } from './push/PusherStore.js';
import { PushGatewayClient } from './push/PushGatewayClient.js';
import { PushSender } from './push/PushSender.js';
import { Relations } from './relations/Relations.js';
import { RelationStore } from './relations/RelationStore.js';
import { RoomSearch } from './search/RoomSearch.js';
import { SearchIndex } from './search/SearchIndex.js';
import { UserDirectory } from './search/UserDirectory.js';
import { EntityResolver } from './rooms/EntityResolver.js';
import { EventAppender } from './rooms/EventAppender.js';
import { HistoryVisibility } from './rooms/HistoryVisibility.js';
import { MembershipService } from './rooms/MembershipService.js';
import { RoomCreator } from './rooms/RoomCreator.js';
import { RoomDirectory } from './rooms/RoomDirectory.js';
import { RoomUpgrader } from './rooms/RoomUpgrader.js';
import { RoomEventService } from './rooms/RoomEventService.js';
import { openDatabase } from './storage/Database.js';
import { Federation } from './federation/Federation.js';
import { DEFAULT_SEND_OPTIONS, FederationSender, transactionTransport } from './federation/send/FederationSender.js';
import { LocalEventFeed } from './federation/send/LocalEventFeed.js';
import { RemoteMembership } from './federation/membership/RemoteMembership.js';
import { RoomBackfill } from './federation/receive/RoomBackfill.js';
import { OutboundEdus } from './federation/send/OutboundEdus.js';
import { DeviceListUpdates } from './federation/send/DeviceListUpdates.js';
import { StreamCounter } from './storage/StreamCounter.js';
import { FilterStore } from './sync/FilterStore.js';
import { SyncHandler } from './sync/SyncHandler.js';
import { SyncNotifier } from './sync/SyncNotifier.js';
import { join, dirname } from 'node:path';

export type { HomeserverOptions, RunningHomeserver } from './contracts.js';

export async function startHomeserver(options: HomeserverOptions): Promise<RunningHomeserver> {
  const logger = options.logger.child({ component: 'homeserver' });
  const serverName = options.serverName;
  const db = openDatabase(options.storage);
  const metrics = homeserverMetrics();
  let stopAppservice: (() => Promise<void>) | null = null;
  let stopConnections: (() => void) | null = null;
  let deviceActivity: DeviceActivity | null = null;
  let federationSender: FederationSender | null = null;
  try {
    const counter = new StreamCounter(db);
    const ephemeralCounter = new EphemeralCounter();
    const accounts = new AccountStore(db);
    const activity = new DeviceActivity(accounts, logger);
    deviceActivity = activity;
    const accountData = new AccountDataStore(db, counter);
    const signingKeys = serverSigningKeys(options, logger);
    const events = new EventStore(db, counter, new LocalEventSigner(serverName, signingKeys.current));
    upgradeLegacyRooms(db, events.signer, logger);
    events.onListenerError = (err) => logger.error({ err }, 'event listener failed');
    const formatter = new ClientEventFormatter(events);
    const relationStore = new RelationStore(db);
    events.addIndexer(relationStore);
    const searchIndex = new SearchIndex(db);
    events.addIndexer(searchIndex);
    const directory = new RoomDirectory(db);
    const stream = new RoomEventStream(serverName, events, directory, formatter);
    const toDevice = new ToDeviceInbox(db, counter);
    const e2ee = openE2eeStores(db, counter);

    const appservice: AppserviceService = createAppserviceService({
      db,
      serverName,
      stream,
      encryption: appserviceEncryptionFeed(toDevice, e2ee, accounts, events, counter),
      users: accounts,
      registrationFiles: options.appserviceConfigFiles,
      retry: options.appserviceRetry ?? { initialMs: 2_000, maxMs: 512_000 },
      logger: options.logger,
    });
    const gateway = (): AppserviceService => appservice;

    const appender = new EventAppender(events);
    const resolver = new EntityResolver(serverName, accounts, directory, gateway);
    const memberships = new MembershipService(events, appender, accounts, resolver);
    const roomEvents = new RoomEventService(events, appender, directory);
    const history = new HistoryVisibility(events, (userId) => appservice.appserviceForUser(userId)?.id ?? null);
    const relations = new Relations(relationStore, events, formatter, history);
    const creator = new RoomCreator(serverName, events, appender, memberships, directory, resolver, gateway);
    const typing = new TypingTracker(ephemeralCounter);
    const presence = new PresenceTracker(ephemeralCounter, options.presence ?? { idleMs: 300_000, offlineMs: 30_000 });
    const receipts = new ReceiptStore(db, counter);
    const pushRules = new PushRuleStore(db, accountData);
    const pushActions = new PushActionStore(db);
    // After the relations indexer: a notification is filed under the thread its event belongs to.
    const pushRecorder = new PushActionRecorder({
      events,
      relations: relationStore,
      rules: pushRules,
      actions: pushActions,
      isAppserviceUser: (userId) => appservice.appserviceForUser(userId)?.exclusive === true,
      isLocalUser: (userId) => accounts.exists(userId),
    });
    events.addIndexer(pushRecorder);
    const unread = new UnreadCounter(receipts, events, pushActions);
    const pushers = new PusherStore(db);
    const push = options.push ?? { allowPrivateGateways: false, retry: { initialMs: 1_000, maxMs: 600_000 } };
    const pushSender = new PushSender({
      pushers,
      actions: pushActions,
      events,
      receipts,
      unread,
      gateway: new PushGatewayClient({ timeoutMs: 15_000, allowPrivateGateways: push.allowPrivateGateways }),
      logger,
      retry: { ...push.retry, giveUpAfterMs: 86_400_000 },
      outcomes: metrics.pushes,
    });
    // Notifications older than 30 days go: the table stays bounded whatever no one reads.
    const pruneTimer = setInterval(() => pushActions.prune(Date.now() - 30 * 86_400_000), 3_600_000);
    pruneTimer.unref();
    const filters = new FilterStore(db);
    const notifier = new SyncNotifier();
    const sync = new SyncHandler({
      events,
      history,
      relations,
      formatter,
      receipts,
      typing,
      presence,
      accountData,
      pushRules,
      unread,
      counter,
      ephemeral: ephemeralCounter,
      notifier,
      toDevice,
      deviceLists: e2ee.deviceLists,
      oneTimeKeys: e2ee.oneTimeKeys,
      onWaitChange: (delta) => metrics.syncWaiting.inc(delta),
    });
    const mediaDir =
      options.mediaDir ?? (options.storage.kind === 'sqlite' ? join(dirname(options.storage.path), 'media') : undefined);
    const blobs = options.storage.kind === 'sqlite' && mediaDir ? new FileBlobStore(mediaDir) : new MemoryBlobStore();
    const media = new MediaStore(db, blobs);

    const federation = options.federation ? new Federation(serverName, options.federation, signingKeys, logger, { db, blobs }) : null;
    federationSender =
      federation &&
      new FederationSender({
        db,
        origin: serverName,
        transport: transactionTransport(federation.client),
        options: options.federation?.sending ?? DEFAULT_SEND_OPTIONS,
        metrics: metrics.federationSend,
        logger,
      });
    const localEventFeed = federationSender && new LocalEventFeed(serverName, events, federationSender);
    if (localEventFeed) events.addIndexer(localEventFeed);
    const federationEdus = federationSender && new OutboundEdus(federationSender, serverName);

    /** Listeners run from timers and after commits: a failure is logged, never thrown into the caller. */
    const guarded =
      <A extends unknown[]>(what: string, fn: (...args: A) => void) =>
      (...args: A): void => {
        try {
          fn(...args);
        } catch (err) {
          logger.error({ err }, `${what} failed`);
        }
      };

    // What wakes /sync, and what appservices with receive_ephemeral hear.
    events.onAppend((appended) => {
      metrics.eventsPersisted.inc(appended.length);
      pushSender.wake(pushRecorder.takeNotified());
      for (const e of appended) presence.active(e.sender);
      const rooms = new Set<string>();
      const users = new Set<string>();
      for (const e of appended) {
        rooms.add(e.room_id);
        if (e.type === 'm.room.member' && e.state_key) users.add(e.state_key);
      }
      notifier.notify({ rooms, users });
    });
    accountData.onChange((userId) => notifier.notify({ users: [userId] }));
    // A device-list change wakes the user, whoever shares a room with them, and a signature's maker.
    e2ee.deviceLists.onChange(
      guarded('device list notification', (change: DeviceListChange) => {
        const users = change.observer === null ? [change.userId] : [change.userId, change.observer];
        notifier.notify({ rooms: change.observer === null ? e2ee.deviceLists.roomsOf(change.userId) : [], users });
      }),
    );
    // ... and, for this server's users, the servers sharing a room with them (in the recording transaction).
    const deviceListUpdates = federationSender && new DeviceListUpdates(federationSender, serverName, e2ee, accounts);
    if (deviceListUpdates) e2ee.deviceLists.onChange(guarded('device list update for other servers', (change: DeviceListChange) => deviceListUpdates.onChange(change)));
    typing.onChange(
      guarded('typing notification', (roomId: string, userIds: string[], change: { userId: string; typing: boolean }) => {
        notifier.notify({ rooms: [roomId] });
        appservice.pushEphemeral({ type: 'm.typing', room_id: roomId, content: { user_ids: userIds } });
        federationEdus?.typing(roomId, change.userId, change.typing);
      }),
    );
    presence.onChange(
      guarded('presence notification', (userId: string, rec: PresenceRecord) => {
        const rooms = events.membershipsOfUser(userId).filter((m) => m.membership === 'join').map((m) => m.room_id);
        notifier.notify({ rooms, users: [userId] });
        const content = presence.content(userId, rec);
        appservice.pushEphemeral({ type: 'm.presence', sender: userId, content });
        federationEdus?.presence(userId, content);
      }),
    );

    let boundUrl = '';
    const limits = new RateLimits(options.rateLimits, metrics.rateLimited);
    const uia = new UiaSessions();
    const hs: HomeserverContext = {
      options,
      serverName,
      baseUrl: () => options.publicBaseUrl ?? boundUrl,
      logger,
      db,
      counter,
      ephemeralCounter,
      accounts,
      deviceActivity: activity,
      openid: new OpenIdTokens(db),
      uia,
      uiAuth: new UserInteractiveAuth(uia, accounts, limits, serverName),
      deviceDeletion: new DeviceDeletion(db, accounts, e2ee, toDevice, pushers),
      e2ee,
      accountData,
      events,
      formatter,
      directory,
      resolver,
      memberships,
      roomEvents,
      history,
      relations,
      search: new RoomSearch(searchIndex, events, history, relations, formatter),
      userDirectory: new UserDirectory(db),
      creator,
      upgrader: new RoomUpgrader(serverName, events, appender, memberships, directory),
      typing,
      receipts,
      toDevice,
      presence,
      pushRules,
      pushActions,
      pushers,
      pushSender,
      filters,
      notifier,
      sync,
      media,
      auth: new AccessTokenAuth(accounts, gateway, activity),
      appservice,
      metrics,
      limits,
      federation,
      federationSender,
      remoteMembership:
        federation && new RemoteMembership(serverName, federation, events, logger, localEventFeed ? (id, store) => localEventFeed.storeSentElsewhere(id, store) : undefined),
      roomBackfill: federation && new RoomBackfill(serverName, federation, events, logger),
      federationEdus,
    };

    await appservice.start();
    pushSender.start();
    presence.start();
    federationSender?.start();
    stopAppservice = () => appservice.stop();
    const connections = new ClientConnections(options.connections, trustedProxies(options.trustedProxies), metrics.connectionsCut, logger);
    const ownFederationListener = federation !== null && options.federationListener !== undefined;
    const app = buildClientApp(hs, !ownFederationListener);
    const server: Server = createServer(connections.serverOptions(), connections.handler(app));
    connections.attach(server);
    stopConnections = () => connections.close();
    const address = await listen(server, options.port, options.bind);
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    boundUrl = `http://${host}:${address.port}`;
    logger.info({ url: boundUrl, server_name: serverName, storage: options.storage.kind, sqlite_driver: db.driver }, 'homeserver listening');
    const federationServer =
      federation !== null && options.federationListener !== undefined
        ? await federationListener(hs, federation, options.federationListener, () => {
            server.close();
            connections.close();
          })
        : null;

    let stopped: Promise<void> | null = null;
    return {
      url: boundUrl,
      port: address.port,
      federationPort: federationServer?.port ?? (federation ? address.port : null),
      reloadAppservices: async () => {
        await appservice.reload();
        pushRecorder.forgetRecipients();
      },
      routes: () => [...listRoutes(app), ...(federationServer ? listRoutes(federationServer.app) : [])],
      stop: () =>
        (stopped ??= (async () => {
          const closed = Promise.all(
            [server, ...(federationServer ? [federationServer.server] : [])].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
          );
          notifier.close();
          server.closeAllConnections();
          federationServer?.server.closeAllConnections();
          await closed;
          connections.close();
          federationServer?.connections.close();
          typing.stop();
          presence.stop();
          clearInterval(pruneTimer);
          await pushSender.stop();
          await federationSender?.stop();
          await appservice.stop();
          activity.stop();
          db.close();
          logger.info('homeserver stopped');
        })()),
    };
  } catch (err) {
    // e.g. the port is taken: leave nothing running behind.
    stopConnections?.();
    deviceActivity?.stop();
    await federationSender?.stop();
    await stopAppservice?.().catch((stopErr: unknown) => logger.warn({ err: stopErr }, 'appservice stop failed'));
    db.close();
    throw err;
  }
}

/** Listens, or rejects with the listen error (e.g. EADDRINUSE). */
async function listen(server: Server, port: number, bind: string): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, bind, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}

/**
 * homeserver.federation.listener: the federation API on a port of its own, with the client port's
 * connection limits. `closeClient` undoes the client listener when this one cannot listen.
 */
async function federationListener(
  hs: HomeserverContext,
  fed: Federation,
  where: { bind: string; port: number },
  closeClient: () => void,
): Promise<{ server: Server; app: ReturnType<typeof buildFederationApp>; connections: ClientConnections; port: number }> {
  const options = hs.options;
  const connections = new ClientConnections(options.connections, trustedProxies(options.trustedProxies), hs.metrics.connectionsCut, hs.logger);
  const app = buildFederationApp(hs, fed);
  const server: Server = createServer(connections.serverOptions(), connections.handler(app));
  connections.attach(server);
  try {
    const address = await listen(server, where.port, where.bind);
    hs.logger.info({ bind: where.bind, port: address.port }, 'federation listening');
    return { server, app, connections, port: address.port };
  } catch (err) {
    connections.close();
    closeClient();
    throw err;
  }
}
