import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { NamespacedGhostDirectory } from '../identity/GhostDirectory.js';
import { RedisIdentityMap } from '../identity/RedisIdentityMap.js';
import { RedisMessageMap } from '../links/RedisMessageMap.js';
import { RedisRoomLinks } from '../links/RedisRoomLinks.js';
import { PluginMetricsRegistry } from '../metrics/PluginMetricsRegistry.js';
import { BridgePortals } from '../portals/BridgePortals.js';
import { PortalRooms } from '../portals/PortalRooms.js';
import { BridgeOutbox } from '../outbox/BridgeOutbox.js';
import type { MatrixIntent, MembershipListener } from '../matrix/MatrixIntent.js';
import type { OutboxQueues } from '../outbox/OutboxQueues.js';
import type { BridgeKeyspace } from '../store/BridgeKeyspace.js';
import { RedisPluginStore } from '../store/RedisPluginStore.js';
import type { BridgeContext, BridgeStatus } from '../plugin-api/index.js';
import type { LoadedPlugin } from './PluginLoader.js';
import { BridgeRoutes } from './BridgeRoutes.js';
import { RoomInterest } from './RoomInterest.js';
import { RoomVoice } from './RoomVoice.js';

export interface BridgeRuntimeDeps {
  redis: Redis;
  keyspace: BridgeKeyspace;
  serverName: string;
  logger: Logger;
  metrics: Registry;
  outboxQueues: OutboxQueues;
  messageTtlSeconds?: number;
  /** An intent for a user id, reporting its joins/leaves to the given listener. */
  intentFor(userId: string, listener: MembershipListener): MatrixIntent;
  botUserId: string;
  connectRemote: boolean;
  /** The host's public URL (host.url), for ctx.http.baseUrl; null when not known. */
  publicUrl: string | null;
  /** Where the bridge reports its connections (ctx.status). */
  status: BridgeStatus;
  /** Where bridges keep files: this one gets `<dataDir>/bridges/<name>` (ctx.dataDir). */
  dataDir: string;
}

/** One loaded plugin with everything the host wired for it: its stores, ghosts, bot, outbox and context. */
export class BridgeRuntime {
  readonly name: string;
  readonly ghosts: NamespacedGhostDirectory;
  readonly identities: RedisIdentityMap;
  readonly links: RedisRoomLinks;
  readonly portals: BridgePortals;
  readonly messages: RedisMessageMap;
  readonly store: RedisPluginStore;
  readonly interest: RoomInterest;
  readonly outbox: BridgeOutbox;
  /** The routes the bridge registers through ctx.http. */
  readonly routes: BridgeRoutes;
  /** The shared bot, acting for this bridge: rooms it joins through here concern this bridge. */
  readonly bot: MatrixIntent;
  readonly logger: Logger;
  readonly context: BridgeContext;
  /** Who speaks for this bridge in a room (notices, dead-letter notices, the outbox's bot messages). */
  readonly voice: RoomVoice;
  private readonly aliasHead: string;
  private readonly aliasTail: string;

  constructor(
    readonly loaded: LoadedPlugin,
    private readonly deps: BridgeRuntimeDeps,
  ) {
    const { redis, keyspace, serverName } = deps;
    const d = loaded.descriptor;
    this.name = loaded.name;
    this.logger = deps.logger.child({ bridge: loaded.name });
    this.identities = new RedisIdentityMap(redis, keyspace);
    this.links = new RedisRoomLinks(redis, keyspace);
    this.messages = new RedisMessageMap(redis, keyspace, deps.messageTtlSeconds);
    this.store = new RedisPluginStore(redis, keyspace);
    this.interest = new RoomInterest(redis, keyspace, this.links);
    this.ghosts = new NamespacedGhostDirectory(d.ghostPrefix, serverName, async (userId, profile) => {
      const intent = this.intent(userId);
      await intent.ensureRegistered();
      if (profile) await intent.setProfile(profile);
      return intent;
    });
    this.outbox = new BridgeOutbox(loaded.name, this.ghosts, deps.outboxQueues);
    this.routes = new BridgeRoutes(loaded.name, d.httpPrefixes ?? [], deps.publicUrl);
    this.bot = this.intent(deps.botUserId);
    const rooms = new PortalRooms({ ghosts: this.ghosts, bot: this.bot, serverName, aliasPrefix: d.aliasPrefix, protocol: d.protocol, networkName: d.networkName, logger: this.logger });
    this.portals = new BridgePortals({ redis, keyspace, links: this.links, rooms, logger: this.logger });
    this.voice = new RoomVoice({ bot: this.bot, botUserId: deps.botUserId, interest: this.interest, intent: (userId) => this.intent(userId), logger: this.logger });
    this.aliasHead = `#${d.aliasPrefix}`;
    this.aliasTail = `:${serverName}`;
    const bot = this.bot;
    const dataDir = join(deps.dataDir, 'bridges', loaded.name);
    mkdirSync(dataDir, { recursive: true });
    this.context = {
      config: loaded.config,
      serverName,
      logger: this.logger,
      metrics: new PluginMetricsRegistry(deps.metrics, d.protocol),
      bot,
      ghosts: this.ghosts,
      identities: this.identities,
      links: this.links,
      portals: this.portals,
      messages: this.messages,
      outbox: this.outbox,
      store: this.store,
      http: this.routes,
      status: deps.status,
      dataDir,
      notice: async (roomId: string, text: string) => {
        await this.voice.say(roomId, 'm.room.message', { msgtype: 'm.notice', body: text }, randomUUID());
      },
      connectRemote: deps.connectRemote,
    };
  }

  /** An intent of this bridge (a ghost or the bot) whose joins and leaves this bridge tracks. */
  intent(userId: string): MatrixIntent {
    return this.deps.intentFor(userId, this.interest);
  }

  get protocol(): string {
    return this.loaded.descriptor.protocol;
  }

  /** The bridge's own users: its ghosts and the bot acting for it (their events are echoes). */
  isOwnUser(userId: string): boolean {
    return userId === this.deps.botUserId || this.ghosts.ownsUserId(userId);
  }

  ownsAlias(alias: string): boolean {
    return alias.startsWith(this.aliasHead) && alias.endsWith(this.aliasTail) && alias.length > this.aliasHead.length + this.aliasTail.length;
  }
}
