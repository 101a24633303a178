// The appservice side of the embedded homeserver (AS API, homeserver side). The room core composes it
// through the AppserviceService contract (../contracts.ts); nothing else in this folder is imported
// from outside it.
import type { AppserviceService, AppserviceServiceDeps, EphemeralEvent, Requester } from '../contracts.js';
import type { Appservice } from './Appservice.js';
import { AppserviceAuthenticator } from './AppserviceAuthenticator.js';
import { appserviceClientRouter } from './AppserviceClientRouter.js';
import { AppserviceHttpClient } from './AppserviceHttpClient.js';
import { appserviceMetrics } from './AppserviceMetrics.js';
import { AppservicePing } from './AppservicePing.js';
import { AppserviceQueries } from './AppserviceQueries.js';
import { AppserviceRegistry, type AppserviceLoader, type RegistryChange } from './AppserviceRegistry.js';
import { AppserviceStore } from './AppserviceStore.js';
import { InterestMatcher } from './InterestMatcher.js';
import { loadAppservice } from './loadAppservice.js';
import { ThirdPartyFanout } from './ThirdPartyFanout.js';
import { DEFAULT_TRANSACTION_LIMITS, TransactionQueue, type TransactionLimits } from './TransactionQueue.js';
import { TransactionSender } from './TransactionSender.js';

export { AppserviceRegistryError } from './AppserviceRegistry.js';

/** Tuning that the contract leaves out; the defaults suit production, tests shorten them. */
export interface AppserviceServiceOptions {
  /** Per transaction attempt (default 30 s). */
  transactionTimeoutMs?: number;
  /** Per user/alias query attempt (default 5 s; a silent appservice is asked twice, then 408). */
  queryTimeoutMs?: number;
  /** Per appservice in a third-party lookup (default 10 s). */
  thirdPartyTimeoutMs?: number;
  /** The homeserver → appservice ping (default 10 s, then 504 M_CONNECTION_TIMEOUT). */
  pingTimeoutMs?: number;
  /** Ephemeral events kept per appservice while it is down (default 10,000; oldest dropped, logged). */
  ephemeralCap?: number;
  limits?: TransactionLimits;
  /** Replaces reading registration files (tests). */
  loader?: AppserviceLoader;
}

export function createAppserviceService(deps: AppserviceServiceDeps, options: AppserviceServiceOptions = {}): AppserviceService {
  const logger = deps.logger.child({ component: 'appservice' });
  const store = new AppserviceStore(deps.db);
  const registry = new AppserviceRegistry(
    deps.registrationFiles,
    options.loader ?? ((file) => loadAppservice(file, deps.serverName)),
  );
  const http = new AppserviceHttpClient();
  const queue = new TransactionQueue(store, deps.stream, deps.encryption, options.limits ?? DEFAULT_TRANSACTION_LIMITS);
  const metrics = appserviceMetrics();
  const authenticator = new AppserviceAuthenticator(registry, deps.users);
  const queries = new AppserviceQueries({
    appservices: () => registry.all(),
    http,
    timeoutMs: options.queryTimeoutMs ?? 5_000,
    logger,
  });
  const fanout = new ThirdPartyFanout({
    appservices: () => registry.all(),
    http,
    timeoutMs: options.thirdPartyTimeoutMs ?? 10_000,
    logger,
  });
  const senders = new Map<string, TransactionSender>();
  const ping = new AppservicePing({
    find: (id) => registry.byId(id),
    http,
    timeoutMs: options.pingTimeoutMs ?? 10_000,
    onSuccess: (id) => senders.get(id)?.wakeNow(),
    logger,
  });
  const clientRouter = appserviceClientRouter({ fanout, ping, logger });
  const ephemeralCap = options.ephemeralCap ?? 10_000;
  let running = false;
  let unsubscribe: Array<() => void> = [];

  const refreshNetworks = (): void => {
    fanout.refreshNetworks().catch((err: unknown) => logger.warn({ err }, 'could not fetch third-party protocols'));
  };

  /** Starts senders for new appservices, stops those of removed ones, and retries everyone now. */
  const applyRegistry = async (): Promise<void> => {
    const change: RegistryChange = {
      added: registry.all().filter((as) => !senders.has(as.id)).map((as) => as.id),
      removed: [...senders.keys()].filter((id) => registry.byId(id) === null),
      kept: registry.all().filter((as) => senders.has(as.id)).map((as) => as.id),
    };
    await Promise.all(
      change.removed.map(async (id) => {
        const sender = senders.get(id);
        senders.delete(id);
        await sender?.stop();
      }),
    );
    for (const id of change.added) {
      // A new appservice starts at the stream's head: it receives what happens from now on.
      store.ensureState(id, deps.stream.head());
      senders.set(
        id,
        new TransactionSender(id, {
          appservice: () => registry.byId(id),
          store,
          queue,
          http,
          retry: deps.retry,
          requestTimeoutMs: options.transactionTimeoutMs ?? 30_000,
          metrics,
          logger,
        }),
      );
    }
    // A changed registration (a fixed url or hs_token) deserves an attempt now, not after the backoff.
    for (const sender of senders.values()) sender.wakeNow();
    logger.info({ ...change, appservices: registry.all().length }, 'appservice registrations loaded');
  };

  const pushEphemeral = (event: EphemeralEvent): void => {
    const interest = new InterestMatcher(deps.stream);
    for (const appservice of registry.all()) {
      if (!appservice.receivesEphemeral || appservice.url === null) continue;
      const filtered = interest.ephemeralFor(appservice, event);
      if (filtered === null) continue;
      const dropped = store.enqueueEphemeral(appservice.id, filtered, coalesceKey(filtered), ephemeralCap);
      if (dropped > 0) {
        metrics.droppedEphemeral.inc({ appservice: appservice.id }, dropped);
        logger.warn({ appservice_id: appservice.id, dropped, cap: ephemeralCap }, 'too many ephemeral events waiting; oldest dropped');
      }
      senders.get(appservice.id)?.notify();
    }
  };

  const service: AppserviceService = {
    clientRouter,

    authenticate(token: string, userId: string | undefined, deviceId: string | undefined): Requester | null {
      return authenticator.authenticate(token, userId, deviceId);
    },

    appserviceForUser(userId: string): { id: string; exclusive: boolean; sender: boolean } | null {
      let shared: { id: string; exclusive: boolean; sender: boolean } | null = null;
      for (const as of registry.all()) {
        if (as.namespaces.isSender(userId)) return { id: as.id, exclusive: true, sender: true };
        const match = as.namespaces.matchUser(userId);
        if (match?.exclusive) return { id: as.id, exclusive: true, sender: false };
        if (match && shared === null) shared = { id: as.id, exclusive: false, sender: false };
      }
      return shared;
    },

    isExclusiveUser(userId: string, exceptAppserviceId?: string | null): boolean {
      return registry
        .all()
        .some(
          (as) => as.id !== exceptAppserviceId && (as.namespaces.isSender(userId) || as.namespaces.matchUser(userId)?.exclusive === true),
        );
    },

    isExclusiveAlias(alias: string, exceptAppserviceId?: string | null): boolean {
      return registry.all().some((as) => as.id !== exceptAppserviceId && as.namespaces.matchAlias(alias)?.exclusive === true);
    },

    queryUser: (userId) => queries.queryUser(userId),
    queryAlias: (alias) => queries.queryAlias(alias),

    pushEphemeral(event: EphemeralEvent): void {
      try {
        pushEphemeral(event);
      } catch (err) {
        // Typing or a receipt must never fail the client request that caused it.
        logger.error({ err, type: event.type, room_id: event.room_id }, 'could not queue ephemeral event for appservices');
      }
    },

    hasNetwork: (instanceId) => fanout.hasNetwork(instanceId, (id) => registry.byId(id) !== null),

    async start(): Promise<void> {
      if (running) return;
      await registry.reload();
      await applyRegistry();
      running = true;
      const wakeAll = (): void => {
        for (const sender of senders.values()) sender.notify();
      };
      unsubscribe = [deps.stream.onAppend(wakeAll), deps.encryption.onChange(wakeAll)];
      // Transactions stored before a restart go out first; then whatever the stream holds.
      for (const sender of senders.values()) sender.notify();
      refreshNetworks();
    },

    async stop(): Promise<void> {
      running = false;
      for (const off of unsubscribe) off();
      unsubscribe = [];
      await Promise.all([...senders.values()].map((s) => s.stop()));
      senders.clear();
    },

    async reload(): Promise<void> {
      await registry.reload();
      if (running) {
        await applyRegistry();
        refreshNetworks();
      }
    },
  };
  return service;
}

/** Typing (per room) and presence (per user) carry full state: a newer one replaces a waiting one. */
function coalesceKey(event: EphemeralEvent): string | null {
  if (event.type === 'm.typing' && event.room_id !== undefined) return `typing\n${event.room_id}`;
  if (event.type === 'm.presence') {
    const user = event.sender ?? event.content['user_id'];
    return typeof user === 'string' ? `presence\n${user}` : null;
  }
  return null;
}

export type { Appservice };
