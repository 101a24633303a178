import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { EventDispatcher, QueryResolver, ThirdPartyResolver } from '../contracts.js';
import { ClientServerApi, type RetryOptions } from '../matrix/ClientServerApi.js';
import { IntentCaches, type IntentCacheSizes } from '../matrix/IntentCaches.js';
import { MatrixApiError } from '../plugin-api/MatrixApiError.js';
import { MatrixIntent, type MembershipListener } from '../matrix/MatrixIntent.js';
import { DEFAULT_OUTBOX_SETTINGS, OutboxQueues, type OutboxSettings } from '../outbox/OutboxQueues.js';
import { OutboxWorker, shortReason } from '../outbox/OutboxWorker.js';
import { RuntimeMetrics } from '../metrics/RuntimeMetrics.js';
import { RedisMessageMap } from '../links/RedisMessageMap.js';
import { RuntimeKeys } from '../store/BridgeKeyspace.js';
import { openRedis, type RedisConnection } from '../store/RedisConnection.js';
import type {
  EventContext,
  MatrixEphemeralEvent,
  MatrixEvent,
  MediaContent,
  ThirdPartyLocation,
  ThirdPartyProtocol,
  ThirdPartyUser,
} from '../plugin-api/index.js';
import { BridgeRuntime } from './BridgeRuntime.js';
import { normaliseCallEvent } from './CallEventNormaliser.js';
import { relationOf } from './EventRelations.js';
import type { LoadedPlugin } from './PluginLoader.js';

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
  outbox?: Partial<OutboxSettings>;
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
}

const MEDIA_MSGTYPES = new Set(['m.image', 'm.file', 'm.audio', 'm.video']);
const NO_LISTENER: MembershipListener = { joined: async () => undefined, left: async () => undefined };

/**
 * Runs the loaded plugins and is the pipeline's only way in: EventDispatcher, QueryResolver and
 * ThirdPartyResolver of core/contracts.ts.
 *
 * Routing (each event goes to every plugin it concerns, in config order):
 * - events sent by a plugin's ghosts, and membership events about them (invites to its ghosts above all);
 * - invites of the shared bot go to every plugin (each decides whether to join through `ctx.bot`);
 * - events of rooms the plugin has links in, or where its ghosts or its bot (joined through that plugin)
 *   are members (RoomInterest, kept in Redis from membership events and the plugin's own joins);
 * - `m.call.*` goes to a CallHandler (v0/v1 normalised) instead of onMatrixEvent; m.image/m.file/m.audio/
 *   m.video with an `mxc://` url goes to an AttachmentHandler with the bytes fetched.
 * A plugin that handled an event is marked so, so when another plugin's failure makes the worker retry the
 * event, only the failed plugin sees it again.
 */
export class PluginHost implements EventDispatcher, QueryResolver, ThirdPartyResolver {
  readonly botUserId: string;
  readonly keys: RuntimeKeys;
  private readonly api: ClientServerApi;
  private readonly caches: IntentCaches;
  private readonly metrics: RuntimeMetrics;
  private readonly settings: OutboxSettings;
  private readonly bridges: BridgeRuntime[] = [];
  private readonly byProtocol = new Map<string, BridgeRuntime>();
  private redis: Redis | null = null;
  private outboxQueues: OutboxQueues | null = null;
  private outboxWorker: OutboxWorker | null = null;
  private readonly started: BridgeRuntime[] = [];
  private readonly handledTtl: number;

  constructor(private readonly options: PluginHostOptions) {
    this.botUserId = `@${options.senderLocalpart}:${options.serverName}`;
    this.keys = new RuntimeKeys(options.appserviceId);
    this.metrics = RuntimeMetrics.for(options.metrics);
    this.caches = new IntentCaches(options.cacheSizes);
    this.settings = { ...DEFAULT_OUTBOX_SETTINGS, ...options.outbox };
    this.handledTtl = options.handledTtlSeconds ?? 6 * 3600;
    this.api = new ClientServerApi({
      homeserverUrl: options.homeserverUrl,
      asToken: options.asToken,
      logger: options.logger.child({ component: 'matrix-client' }),
      metrics: this.metrics,
      retry: options.matrixRetry,
      requestTimeoutMs: options.requestTimeoutMs,
      maxDownloadBytes: options.maxAttachmentBytes ?? 50 * 1024 * 1024,
    });
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
    this.redis = openRedis(this.options.redis, { maxRetriesPerRequest: 3, connectionName: 'patchbay-plugins' });
    this.outboxQueues = new OutboxQueues(this.options.redis, this.keys, this.settings, log.child({ component: 'outbox' }));
    await this.outboxQueues.start();
    for (const loaded of this.options.plugins) {
      const runtime = new BridgeRuntime(loaded, {
        redis: this.redis,
        keyspace: this.keys.bridge(loaded.name),
        serverName: this.options.serverName,
        logger: log,
        metrics: this.options.metrics,
        outboxQueues: this.outboxQueues,
        messageTtlSeconds: this.options.messageTtlSeconds,
        intentFor: (userId, listener) => this.intentFor(userId, listener),
        botUserId: this.botUserId,
        connectRemote: this.options.connectRemote ?? true,
      });
      this.bridges.push(runtime);
      this.byProtocol.set(loaded.descriptor.protocol, runtime);
    }
    const drain = this.options.outboxWorker ?? true;
    if (drain !== false) {
      this.outboxWorker = new OutboxWorker(
        this.options.redis,
        this.keys,
        this.settings,
        {
          intentFor: (bridge, sender) => {
            const runtime = this.bridge(bridge);
            return runtime ? runtime.intent(sender ?? this.botUserId) : this.intentFor(sender ?? this.botUserId, NO_LISTENER);
          },
          messagesOf: (bridge) => this.bridge(bridge)?.messages ?? new RedisMessageMap(this.requireRedis(), this.keys.bridge(bridge), this.options.messageTtlSeconds),
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
        b.logger.info({ source: b.loaded.source, protocol: b.protocol }, 'bridge started');
      } catch (err) {
        b.logger.error({ err }, 'bridge failed to start');
        await this.stop();
        throw new Error(`bridges.${b.name}: the plugin failed to start: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    }
  }

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
    await this.redis?.quit().catch(() => undefined);
    this.redis = null;
    this.bridges.length = 0;
    this.byProtocol.clear();
  }

  /** The outbox's producer side (dead letters and pending counts for tools and tests). */
  get outbox(): OutboxQueues {
    if (!this.outboxQueues) throw new Error('PluginHost is not started');
    return this.outboxQueues;
  }

  private requireRedis(): Redis {
    if (!this.redis) throw new Error('PluginHost is not started');
    return this.redis;
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
    });
  }

  // ---- EventDispatcher ------------------------------------------------------------------------------

  async dispatch(event: MatrixEvent, attempt: number): Promise<void> {
    const redis = this.requireRedis();
    const targets = await this.route(event);
    await this.trackMembership(event);
    const failures: Array<{ bridge: string; error: unknown }> = [];
    // Markers matter only when several bridges share an event (one's failure must not replay it to the
    // others); a single bridge's retries and replays are the pipeline's ledger's business. Sparing the
    // markers otherwise keeps Redis from holding a key per event.
    const shared = targets.length > 1;
    for (const b of targets) {
      const handledKey = this.keys.handled(b.name, event.event_id);
      if (shared && attempt > 1 && (await redis.exists(handledKey))) {
        this.metrics.pluginEvents.inc({ bridge: b.name, outcome: 'skipped_done' });
        continue;
      }
      try {
        await this.deliver(b, event, attempt);
        if (shared) await redis.set(handledKey, '1', 'EX', this.handledTtl);
        this.metrics.pluginEvents.inc({ bridge: b.name, outcome: 'ok' });
      } catch (error) {
        this.metrics.pluginEvents.inc({ bridge: b.name, outcome: 'error' });
        b.logger.warn({ err: error, room_id: event.room_id, event_id: event.event_id, attempt }, 'plugin failed on an event');
        failures.push({ bridge: b.name, error });
      }
    }
    if (failures.length === 1) throw failures[0]!.error;
    if (failures.length > 1) {
      throw new AggregateError(
        failures.map((f) => f.error),
        failures.map((f) => `${f.bridge}: ${f.error instanceof Error ? f.error.message : String(f.error)}`).join('; '),
      );
    }
  }

  /** The bridges an event concerns, in config order (see the class comment). */
  async route(event: MatrixEvent): Promise<BridgeRuntime[]> {
    const member = event.type === 'm.room.member' && typeof event.state_key === 'string' ? event.state_key : null;
    const botInvite = member === this.botUserId && event.content.membership === 'invite';
    const targets: BridgeRuntime[] = [];
    for (const b of this.bridges) {
      if (botInvite || b.ghosts.ownsUserId(event.sender) || (member !== null && b.ghosts.ownsUserId(member)) || (await b.interest.concerns(event.room_id))) {
        targets.push(b);
      }
    }
    return targets;
  }

  /** Keeps RoomInterest in step with the membership events of the bridges' own users. */
  private async trackMembership(event: MatrixEvent): Promise<void> {
    if (event.type !== 'm.room.member' || typeof event.state_key !== 'string') return;
    const user = event.state_key;
    const membership = event.content.membership;
    const gone = membership === 'leave' || membership === 'ban';
    const present = membership === 'join' || membership === 'invite';
    for (const b of this.bridges) {
      if (user === this.botUserId) {
        // The bot is shared: its leaving ends every bridge's interest through it; its joins are recorded
        // by the bridge that joined (through ctx.bot), not here.
        if (gone) await b.interest.left(user, event.room_id);
      } else if (b.ghosts.ownsUserId(user)) {
        if (gone) await b.interest.left(user, event.room_id);
        else if (present) await b.interest.joined(user, event.room_id);
      }
    }
    // The intents' join cache learns of kicks and bans here instead of at the next failed send.
    if (gone) this.caches.markLeft(user, event.room_id);
  }

  private async deliver(b: BridgeRuntime, event: MatrixEvent, attempt: number): Promise<void> {
    const ctx: EventContext = {
      attempt,
      relation: relationOf(event),
      fromBridge: b.isOwnUser(event.sender),
      logger: b.logger.child({ room_id: event.room_id, event_id: event.event_id }),
    };
    const caps = b.loaded.capabilities;
    if (caps.call && event.type.startsWith('m.call.')) {
      const call = normaliseCallEvent(event);
      if (call) return caps.call.onCallEvent(call, ctx);
    }
    if (caps.attachment && !ctx.fromBridge) {
      const media = await this.fetchAttachment(b, event, ctx);
      if (media) return caps.attachment.onAttachment(event, media, ctx);
    }
    return b.loaded.plugin.onMatrixEvent(event, ctx);
  }

  /** The bytes of a media message, or null when the event is none (or too large: then it goes as an event). */
  private async fetchAttachment(b: BridgeRuntime, event: MatrixEvent, ctx: EventContext): Promise<MediaContent | null> {
    const c = event.content;
    if (event.type !== 'm.room.message' || typeof c.msgtype !== 'string' || !MEDIA_MSGTYPES.has(c.msgtype)) return null;
    if (typeof c.url !== 'string' || !c.url.startsWith('mxc://')) return null;
    let media: MediaContent;
    try {
      media = await b.bot.downloadMedia(c.url);
    } catch (err) {
      if (MatrixApiError.is(err, 'M_TOO_LARGE') || MatrixApiError.is(err, 'M_NOT_FOUND')) {
        ctx.logger.warn({ err: err.message }, 'attachment not fetched; delivering the event without its bytes');
        return null;
      }
      throw err;
    }
    const info = (typeof c.info === 'object' && c.info !== null ? c.info : {}) as Record<string, unknown>;
    return {
      ...media,
      mimetype: typeof info.mimetype === 'string' ? info.mimetype : media.mimetype,
      filename: typeof c.filename === 'string' ? c.filename : typeof c.body === 'string' && c.body.length ? c.body : media.filename,
    };
  }

  async dispatchEphemeral(event: MatrixEphemeralEvent): Promise<void> {
    // Typing and receipts are stale by the time a retry would run: failures are logged, not retried.
    for (const b of this.bridges) {
      const handler = b.loaded.capabilities.ephemeral;
      if (!handler) continue;
      try {
        if (event.room_id !== undefined && !(await b.interest.concerns(event.room_id))) continue;
        await handler.onEphemeralEvent(event);
      } catch (err) {
        b.logger.warn({ err, type: event.type, room_id: event.room_id }, 'plugin failed on an ephemeral event');
      }
    }
  }

  /** Logs the failure with every bridge concerned and tells the room with a short notice from the bot. */
  async deadLettered(event: MatrixEvent, error: Error): Promise<void> {
    let targets: BridgeRuntime[] = [];
    try {
      targets = await this.route(event);
    } catch (err) {
      this.options.logger.error({ err }, 'routing a dead-lettered event failed');
    }
    for (const b of targets) {
      this.metrics.deadLetters.inc({ bridge: b.name, direction: 'to_remote' });
      b.logger.error({ err: error, room_id: event.room_id, event_id: event.event_id, type: event.type }, 'event dead-lettered: it could not be bridged');
    }
    // A notice about the bridge's own notice (or a ghost's echo) could loop: log only.
    if (event.sender === this.botUserId || this.bridges.some((b) => b.ghosts.ownsUserId(event.sender))) return;
    const what = event.type === 'm.room.message' ? 'a message' : `a ${event.type} event`;
    const body = `⚠️ Could not bridge ${what} from ${event.sender} (${event.event_id}): ${shortReason(error)}`;
    const txnId = `pbd_${createHash('sha256').update(event.event_id).digest('base64url').slice(0, 40)}`;
    const content = { msgtype: 'm.notice', body };
    try {
      const bot = this.bot;
      if (await bot.isJoined(event.room_id)) {
        await bot.sendEventAt(event.room_id, 'm.room.message', content, txnId);
        return;
      }
      // The bot is not there (a room only a ghost was invited to): a member ghost says it instead.
      for (const b of targets) {
        for (const member of await b.interest.members(event.room_id)) {
          if (member === this.botUserId) continue;
          try {
            // Checked, not assumed: sending as a ghost that left would make it join again just to say this.
            const intent = b.intent(member);
            if (!(await intent.isJoined(event.room_id))) continue;
            await intent.sendEventAt(event.room_id, 'm.room.message', content, txnId);
            return;
          } catch (err) {
            b.logger.debug({ err, member }, 'member ghost could not post the dead-letter notice');
          }
        }
      }
      this.options.logger.error({ room_id: event.room_id, event_id: event.event_id }, 'no bridge user in the room could post the dead-letter notice');
    } catch (err) {
      this.options.logger.error({ err, room_id: event.room_id, event_id: event.event_id }, 'could not post the dead-letter notice');
    }
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
      return (await handler.onAliasQuery(alias)) === true;
    } catch (err) {
      b.logger.error({ err, alias }, 'alias query failed');
      return false;
    }
  }

  // ---- ThirdPartyResolver ---------------------------------------------------------------------------

  protocol(protocol: string): ThirdPartyProtocol | null {
    const b = this.byProtocol.get(protocol);
    if (!b) return null;
    const handler = b.loaded.capabilities.thirdParty;
    if (!handler) return defaultProtocol(b);
    try {
      return handler.thirdPartyProtocol();
    } catch (err) {
      b.logger.error({ err }, 'thirdPartyProtocol failed');
      return null;
    }
  }

  async users(protocol: string, fields: Record<string, string>): Promise<ThirdPartyUser[] | null> {
    const b = this.byProtocol.get(protocol);
    if (!b) return null;
    const handler = b.loaded.capabilities.thirdParty;
    if (handler) return handler.lookupThirdPartyUser(fields);
    const id = fields.id;
    if (!id) return [];
    const userid = (await b.identities.userIdFor(protocol, id)) ?? safeGhostId(b, id);
    return userid ? [{ userid, protocol, fields: { id } }] : [];
  }

  async locations(protocol: string, fields: Record<string, string>): Promise<ThirdPartyLocation[] | null> {
    const b = this.byProtocol.get(protocol);
    if (!b) return null;
    const handler = b.loaded.capabilities.thirdParty;
    if (handler) return handler.lookupThirdPartyLocation(fields);
    const { network, location } = fields;
    if (!network || !location) return [];
    const roomId = await b.links.roomFor({ network, location });
    const alias = roomId ? await this.canonicalAlias(roomId) : null;
    return alias ? [{ alias, protocol, fields: { network, location } }] : [];
  }

  async usersByMatrixId(userId: string): Promise<ThirdPartyUser[]> {
    const out: ThirdPartyUser[] = [];
    for (const b of this.bridges) {
      try {
        const handler = b.loaded.capabilities.thirdParty;
        if (handler?.thirdPartyUsersOf) {
          out.push(...(await handler.thirdPartyUsersOf(userId)));
          continue;
        }
        const id = (await b.identities.thirdPartyIdFor(b.protocol, userId)) ?? b.ghosts.remoteIdOf(userId);
        if (id !== null) out.push({ userid: userId, protocol: b.protocol, fields: { id } });
      } catch (err) {
        b.logger.error({ err, user_id: userId }, 'reverse third-party user lookup failed');
      }
    }
    return out;
  }

  async locationsByAlias(alias: string): Promise<ThirdPartyLocation[]> {
    let roomId: string | null = null;
    try {
      roomId = await this.bot.resolveAlias(alias);
    } catch (err) {
      this.options.logger.warn({ err, alias }, 'could not resolve an alias for a third-party lookup');
    }
    const out: ThirdPartyLocation[] = [];
    for (const b of this.bridges) {
      try {
        const handler = b.loaded.capabilities.thirdParty;
        if (handler?.thirdPartyLocationsOf) {
          out.push(...(await handler.thirdPartyLocationsOf(alias, roomId)));
          continue;
        }
        if (!roomId) continue;
        for (const r of await b.links.remotesFor(roomId)) out.push({ alias, protocol: b.protocol, fields: { network: r.network, location: r.location } });
      } catch (err) {
        b.logger.error({ err, alias }, 'reverse third-party location lookup failed');
      }
    }
    return out;
  }

  private async canonicalAlias(roomId: string): Promise<string | null> {
    try {
      const state = await this.bot.getStateEvent(roomId, 'm.room.canonical_alias', '');
      return typeof state?.alias === 'string' ? state.alias : null;
    } catch {
      return null;
    }
  }
}

/** For a plugin without a ThirdPartyHandler: users by `id` (identity map, else ghost), locations by link. */
function defaultProtocol(b: BridgeRuntime): ThirdPartyProtocol {
  return {
    user_fields: ['id'],
    location_fields: ['network', 'location'],
    icon: '',
    field_types: {
      id: { regexp: '.+', placeholder: `${b.protocol} id` },
      network: { regexp: '.+', placeholder: 'network' },
      location: { regexp: '.+', placeholder: 'channel, number or address' },
    },
    instances: [],
  };
}

function safeGhostId(b: BridgeRuntime, id: string): string | null {
  try {
    return b.ghosts.userIdFor(id);
  } catch {
    return null;
  }
}
