import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { hostSettings, type HostConfig } from '../../config/index.js';
import type { Logger } from 'pino';
import type { RequestHandler, Router } from 'express';
import type { Registry } from 'prom-client';
import type { EventDispatcher, QueryResolver, ThirdPartyResolver } from '../contracts.js';
import { RedisMessageMap } from '../links/RedisMessageMap.js';
import { ClientServerApi, type RetryOptions } from '../matrix/ClientServerApi.js';
import { IntentCaches, type IntentCacheSizes } from '../matrix/IntentCaches.js';
import { MatrixIntent, type MembershipListener } from '../matrix/MatrixIntent.js';
import { RuntimeMetrics } from '../metrics/RuntimeMetrics.js';
import { DEFAULT_OUTBOX_SETTINGS, OutboxQueues, type OutboxSettings } from '../outbox/OutboxQueues.js';
import { OutboxWorker } from '../outbox/OutboxWorker.js';
import type { MatrixEphemeralEvent, MatrixEvent, ThirdPartyLocation, ThirdPartyProtocol, ThirdPartyUser } from '../plugin-api/index.js';
import { ConnectionStatusBoard, connectionStatusKey } from '../status/ConnectionStatusBoard.js';
import { RuntimeKeys } from '../store/BridgeKeyspace.js';
import { openRedis, type RedisConnection } from '../store/RedisConnection.js';
import { BridgeRuntime } from './BridgeRuntime.js';
import { DeadLetterNotices } from './DeadLetterNotices.js';
import { EventRouter } from './EventRouter.js';
import type { LoadedPlugin } from './PluginLoader.js';
import { OwnAliasLookups } from './OwnAliasLookups.js';
import { pluginRoutesRouter } from './PluginRoutesRouter.js';
import { ThirdPartyLookups } from './ThirdPartyLookups.js';

export interface PluginHostOptions {
  plugins: LoadedPlugin[];
  /** The registration's `id`: names the runtime's Redis keys (`patchbay:<id>:...`). */
  appserviceId: string;
  /** Client-Server API base URL (the embedded homeserver or Synapse). */
  homeserverUrl: string;
  asToken: string;
  serverName: string;
  senderLocalpart: string;
  /** A Redis URL or ioredis options (`{ path }` for the managed Redis). */
  redis: RedisConnection;
  logger: Logger;
  metrics: Registry;
  /** The config's host section (outbox_partitions is read here); keys left out take the shipped defaults. */
  host?: Partial<HostConfig>;
  /** The outbox's tries and timings (tests shorten them). */
  outbox?: Partial<Omit<OutboxSettings, 'partitions'>>;
  /**
   * Outbox partitions this process drains: true = all (default; `patchbay start`), false = none (a
   * process that must not send), or a list (several worker processes sharing the outbox).
   */
  outboxWorker?: boolean | number[];
  /**
   * False for a process that only answers queries and lookups (an ingest-only host beside separate
   * workers): plugins see `ctx.connectRemote === false` and keep off their remote networks. Default true.
   */
  connectRemote?: boolean;
  matrixRetry?: Partial<RetryOptions>;
  requestTimeoutMs?: number;
  cacheSizes?: Partial<IntentCacheSizes>;
  /** Largest attachment the host downloads for an AttachmentHandler (bytes; default 50 MiB). */
  maxAttachmentBytes?: number;
  messageTtlSeconds?: number;
  /** How long "plugin X handled event E" is remembered, so a retry skips plugins that succeeded. */
  handledTtlSeconds?: number;
  /** The host's public URL (host.url), from which ctx.http.baseUrl is made; null or absent when unknown. */
  publicUrl?: string | null;
  /** data_dir: each bridge keeps its files in `<dataDir>/bridges/<name>` (ctx.dataDir). Default: a folder under the OS temp dir. */
  dataDir?: string;
}

const NO_LISTENER: MembershipListener = { joined: async () => undefined, left: async () => undefined };

/** What exists only while the host runs. */
interface Running {
  redis: Redis;
  router: EventRouter;
  notices: DeadLetterNotices;
  /** The bridges' HTTP routes, once they all started. */
  routes: Router | null;
  /** The bridges' connection states (ctx.status). */
  status: ConnectionStatusBoard;
}

/**
 * Runs the loaded plugins: their lifecycle (start in config order, stop in reverse), the wiring of each
 * (BridgeRuntime), the shared outbox, and the pipeline's only way in (EventDispatcher, QueryResolver and
 * ThirdPartyResolver of core/contracts.ts), each job in its own module: EventRouter hands events to the
 * bridges they concern, DeadLetterNotices tells rooms what could not be bridged, ThirdPartyLookups answers
 * `/thirdparty/*`.
 */
export class PluginHost implements EventDispatcher, QueryResolver, ThirdPartyResolver {
  readonly botUserId: string;
  readonly keys: RuntimeKeys;
  private readonly api: ClientServerApi;
  private readonly caches: IntentCaches;
  private readonly metrics: RuntimeMetrics;
  private readonly settings: OutboxSettings;
  private readonly bridges: BridgeRuntime[] = [];
  private readonly lookups: ThirdPartyLookups;
  private readonly aliasLookups: OwnAliasLookups;
  private state: Running | null = null;
  private outboxQueues: OutboxQueues | null = null;
  private outboxWorker: OutboxWorker | null = null;
  private readonly started: BridgeRuntime[] = [];

  constructor(private readonly options: PluginHostOptions) {
    this.botUserId = `@${options.senderLocalpart}:${options.serverName}`;
    this.keys = new RuntimeKeys(options.appserviceId);
    this.metrics = RuntimeMetrics.for(options.metrics);
    this.caches = new IntentCaches(options.cacheSizes);
    const host = hostSettings(options.host);
    this.settings = { ...DEFAULT_OUTBOX_SETTINGS, jobTakeoverMs: host.job_takeover_ms, ...options.outbox, partitions: host.outbox_partitions };
    this.api = new ClientServerApi({
      homeserverUrl: options.homeserverUrl,
      asToken: options.asToken,
      logger: options.logger.child({ component: 'matrix-client' }),
      metrics: this.metrics,
      retry: options.matrixRetry,
      requestTimeoutMs: options.requestTimeoutMs,
      maxDownloadBytes: options.maxAttachmentBytes ?? 50 * 1024 * 1024,
    });
    this.lookups = new ThirdPartyLookups(this.bridges, () => this.bot, options.logger);
    this.aliasLookups = new OwnAliasLookups(() => this.running().redis, this.keys, (alias) => this.bridges.some((b) => b.ownsAlias(alias)));
  }

  /** Names of the running bridges, in config order. */
  get bridgeNames(): string[] {
    return this.bridges.map((b) => b.name);
  }

  /** The bot acting for no bridge in particular (its joins concern no bridge). */
  get bot(): MatrixIntent {
    return this.intentFor(this.botUserId, NO_LISTENER);
  }

  /** The wiring of one bridge (its stores and context), for tools and tests. */
  bridge(name: string): BridgeRuntime | undefined {
    return this.bridges.find((b) => b.name === name);
  }

  /** Connects to Redis, opens the outbox (and drains it unless told not to), then starts each plugin. */
  async start(): Promise<void> {
    const log = this.options.logger;
    const redis = openRedis(this.options.redis, { maxRetriesPerRequest: 3, connectionName: 'patchbay-plugins' });
    const router = new EventRouter({
      bridges: this.bridges,
      redis,
      keys: this.keys,
      botUserId: this.botUserId,
      caches: this.caches,
      metrics: this.metrics,
      handledTtlSeconds: this.options.handledTtlSeconds ?? 6 * 3600,
    });
    this.state = {
      redis,
      router,
      notices: new DeadLetterNotices({ bridges: this.bridges, router, botUserId: this.botUserId, metrics: this.metrics, logger: log }),
      routes: null,
      status: new ConnectionStatusBoard(redis, connectionStatusKey(this.keys.root), log.child({ component: 'status' }), this.options.metrics),
    };
    this.state.status.start();
    this.outboxQueues = new OutboxQueues(this.options.redis, this.keys, this.settings, log.child({ component: 'outbox' }));
    try {
      await this.outboxQueues.start();
    } catch (err) {
      await this.stop();
      throw err;
    }
    for (const loaded of this.options.plugins) {
      this.bridges.push(
        new BridgeRuntime(loaded, {
          redis,
          keyspace: this.keys.bridge(loaded.name),
          serverName: this.options.serverName,
          logger: log,
          metrics: this.options.metrics,
          outboxQueues: this.outboxQueues,
          messageTtlSeconds: this.options.messageTtlSeconds,
          intentFor: (userId, listener) => this.intentFor(userId, listener),
          botUserId: this.botUserId,
          connectRemote: this.options.connectRemote ?? true,
          publicUrl: this.options.publicUrl ?? null,
          status: this.state.status.reporter(loaded.name),
          dataDir: this.options.dataDir ?? join(tmpdir(), `patchbay-${this.options.appserviceId}`),
        }),
      );
    }
    const drain = this.options.outboxWorker ?? true;
    if (drain !== false) {
      this.outboxWorker = new OutboxWorker(
        this.options.redis,
        this.keys,
        this.settings,
        {
          ghost: (bridge, userId) => this.bridge(bridge)?.intent(userId) ?? this.intentFor(userId, NO_LISTENER),
          // A bridge that is no longer loaded (its messages still queued) has no voice: its bot speaks.
          speak: (bridge, roomId, type, content, txnId, ts) =>
            this.bridge(bridge)?.voice.say(roomId, type, content, txnId, ts) ?? this.bot.sendEventAt(roomId, type, content, txnId, ts),
          messagesOf: (bridge) => this.bridge(bridge)?.messages ?? new RedisMessageMap(redis, this.keys.bridge(bridge), this.options.messageTtlSeconds),
        },
        log.child({ component: 'outbox' }),
        this.metrics,
        drain === true ? undefined : drain,
      );
      this.outboxWorker.start();
    }
    for (const b of this.bridges) {
      try {
        await b.loaded.plugin.start(b.context);
        this.started.push(b);
        b.routes.seal();
        b.logger.info({ source: b.loaded.source, protocol: b.protocol }, 'bridge started');
      } catch (err) {
        b.logger.error({ err }, 'bridge failed to start');
        await this.stop();
        throw new Error(`bridges.${b.name}: the plugin failed to start: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    }
    this.state.routes = pluginRoutesRouter(this.bridges, hostSettings(this.options.host).max_body_bytes, this.metrics);
  }

  /**
   * The bridges' HTTP routes, for the host's HTTP server (`patchbay start` and `patchbay host` mount it;
   * workers do not). Requests for paths no bridge registered go on to the next handler.
   */
  readonly httpRoutes: RequestHandler = (req, res, next) => {
    const routes = this.state?.routes;
    if (!routes) return next();
    routes(req, res, next);
  };

  /** Stops the plugins (last started first), then the outbox and the Redis connections. */
  async stop(): Promise<void> {
    for (const b of this.started.reverse()) {
      try {
        await b.loaded.plugin.stop();
      } catch (err) {
        b.logger.error({ err }, 'bridge failed to stop cleanly');
      }
    }
    this.started.length = 0;
    await this.outboxWorker?.close();
    this.outboxWorker = null;
    await this.outboxQueues?.close();
    this.outboxQueues = null;
    await this.state?.status.stop();
    await this.state?.redis.quit().catch(() => undefined);
    this.state = null;
    this.bridges.length = 0;
  }

  /** The outbox's producer side (dead letters and pending counts for tools and tests). */
  get outbox(): OutboxQueues {
    if (!this.outboxQueues) throw new Error('PluginHost is not started');
    return this.outboxQueues;
  }

  private running(): Running {
    if (!this.state) throw new Error('PluginHost is not started');
    return this.state;
  }

  /** An intent reporting its joins to `listener`; a ghost's inviter is the bot, acting for the same bridge. */
  private intentFor(userId: string, listener: MembershipListener): MatrixIntent {
    const isSender = userId === this.botUserId;
    return new MatrixIntent({
      userId,
      api: this.api,
      caches: this.caches,
      isSender,
      ...(isSender ? {} : { inviter: () => this.intentFor(this.botUserId, listener) }),
      listener,
      aliasLookups: this.aliasLookups,
    });
  }

  // ---- EventDispatcher: EventRouter and DeadLetterNotices ------------------------------------------

  dispatch(event: MatrixEvent, attempt: number): Promise<void> {
    return this.running().router.dispatch(event, attempt);
  }

  dispatchEphemeral(event: MatrixEphemeralEvent): Promise<void> {
    return this.running().router.dispatchEphemeral(event);
  }

  deadLettered(event: MatrixEvent, error: Error): Promise<void> {
    return this.running().notices.deadLettered(event, error);
  }

  // ---- QueryResolver --------------------------------------------------------------------------------

  async userExists(userId: string): Promise<boolean> {
    const b = this.bridges.find((x) => x.ghosts.ownsUserId(userId));
    const handler = b?.loaded.capabilities.userQuery;
    if (!b || !handler) return false;
    try {
      return (await handler.onUserQuery(userId)) === true;
    } catch (err) {
      b.logger.error({ err, user_id: userId }, 'user query failed');
      return false;
    }
  }

  async aliasExists(alias: string): Promise<boolean> {
    const b = this.bridges.find((x) => x.ownsAlias(alias));
    const handler = b?.loaded.capabilities.aliasQuery;
    if (!b || !handler) return false;
    try {
      if (await this.aliasLookups.inProgress(alias)) {
        b.logger.debug({ alias }, 'the homeserver asks about an alias the bridge itself is looking up: answering no');
        return false;
      }
      return (await handler.onAliasQuery(alias)) === true;
    } catch (err) {
      b.logger.error({ err, alias }, 'alias query failed');
      return false;
    }
  }

  // ---- ThirdPartyResolver: ThirdPartyLookups ---------------------------------------------------------

  protocol(protocol: string): ThirdPartyProtocol | null {
    return this.lookups.protocol(protocol);
  }

  users(protocol: string, fields: Record<string, string>): Promise<ThirdPartyUser[] | null> {
    return this.lookups.users(protocol, fields);
  }

  locations(protocol: string, fields: Record<string, string>): Promise<ThirdPartyLocation[] | null> {
    return this.lookups.locations(protocol, fields);
  }

  usersByMatrixId(userId: string): Promise<ThirdPartyUser[]> {
    return this.lookups.usersByMatrixId(userId);
  }

  locationsByAlias(alias: string): Promise<ThirdPartyLocation[]> {
    return this.lookups.locationsByAlias(alias);
  }
}
