// A BridgeContext for unit tests of a plugin, with no Redis and no homeserver: a FakeMatrix records what
// the plugin's intents do, the stores live in memory, portals and HTTP routes work as on the host (the
// same room making, the same route answers), and the outbox posts each remote message once, in order.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { NamespacedGhostDirectory } from '../core/identity/GhostDirectory.js';
import { PluginMetricsRegistry } from '../core/metrics/PluginMetricsRegistry.js';
import type {
  BridgeContext,
  BridgeDescriptor,
  BridgePlugin,
  CallHandler,
  HttpMethod,
  HttpResponse,
  MatrixEvent,
  OutboundMessage,
  Outbox,
  Portal,
  PortalKey,
  Portals,
  PortalSpec,
} from '../core/plugin-api/index.js';
import { BridgeRoutes } from '../core/plugin/BridgeRoutes.js';
import { normaliseCallEvent } from '../core/plugin/CallEventNormaliser.js';
import { relationOf } from '../core/plugin/EventRelations.js';
import { answerRoute, requestFrom } from '../core/plugin/RouteAnswers.js';
import { checkPortalKey, PortalRooms } from '../core/portals/PortalRooms.js';
import { BridgeProvisioning } from '../core/provisioning/BridgeProvisioning.js';
import { OpenIdVerifier } from '../core/provisioning/OpenIdVerifier.js';
import { FakeIntent, FakeMatrix } from './FakeMatrix.js';
import { MemoryBridgeStatus, MemoryIdentityMap, MemoryMessageMap, MemoryRoomLinks, MemoryStore } from './MemoryStores.js';

export interface FakeContextOptions {
  /** The homeserver's name (default `hs.test`). */
  serverName?: string;
  /** The config key the bridge runs under (default its protocol): names its HTTP base path. */
  name?: string;
  /** What ctx.http.baseUrl is made from (default `http://host.test`). */
  publicUrl?: string;
  /** ctx.dataDir (default: a new folder under the OS temp dir). */
  dataDir?: string;
  /** OpenID tokens the fake homeserver knows, and whose they are (for ctx.provisioning). */
  openIdTokens?: Record<string, string>;
}

/** A request to one of the plugin's routes, as a test makes it. */
export interface FakeRequest {
  headers?: Record<string, string>;
  query?: Record<string, string>;
  /** A string is sent as UTF-8; an object as JSON. */
  body?: string | Uint8Array | object;
}

/** Calls the plugin's HTTP routes without a server. */
export interface FakeHttp {
  /** Answers as the host would: the route matched by method and path, its auth hook, its errors. */
  request(method: HttpMethod, path: string, request?: FakeRequest): Promise<HttpResponse & { status: number }>;
}

export interface FakeContext<Config> {
  ctx: BridgeContext<Config>;
  /**
   * Hands the plugin one event as the host does: the rest of the event filled in (an event id, a
   * timestamp, `m.room.message`), its EventContext worked out (relation, fromBridge), and the event kept
   * so `intent.getEvent` finds it. `m.call.*` goes to the plugin's `onCallEvent` when it has one, its VoIP
   * content read out as the host does. Resolves with the event.
   */
  deliver(plugin: Pick<BridgePlugin<Config>, 'onMatrixEvent'> & Partial<CallHandler>, event: Partial<MatrixEvent> & Pick<MatrixEvent, 'room_id' | 'sender' | 'content'>, attempt?: number): Promise<MatrixEvent>;
  /** What the plugin did in "Matrix". */
  hs: FakeMatrix;
  /** An intent for any user, e.g. to act as a real Matrix user in a test. */
  intentFor(userId: string): FakeIntent;
  store: MemoryStore;
  /** What the bridge reported through ctx.status. */
  status: MemoryBridgeStatus;
  http: FakeHttp;
  /** Resolves once every message enqueued so far is posted. */
  outboxSettled(): Promise<void>;
}

/** Portals over the fake: made once per key (one process needs no lock), the same way as on the host. */
class FakePortals implements Portals {
  constructor(
    private readonly links: MemoryRoomLinks,
    private readonly rooms: PortalRooms,
  ) {}

  aliasFor(name: string): string {
    return this.rooms.aliasFor(name);
  }

  roomFor(key: PortalKey): Promise<string | null> {
    checkPortalKey(key);
    return this.links.roomFor(key);
  }

  private readonly making = new Map<string, Promise<Portal>>();

  async ensure(key: PortalKey, spec: PortalSpec | (() => PortalSpec | Promise<PortalSpec>) = {}): Promise<Portal> {
    checkPortalKey(key);
    const existing = await this.links.roomFor(key);
    if (existing !== null) return { key, roomId: existing, created: false };
    const id = JSON.stringify([key.network, key.location, key.receiver ?? null]);
    const running = this.making.get(id);
    if (running) return { ...(await running), created: false };
    const made = (async (): Promise<Portal> => {
      const settled = typeof spec === 'function' ? await spec() : spec;
      const roomId = await this.rooms.make(key, settled);
      await this.links.link(roomId, key, settled.data ?? {});
      return { key, roomId, created: true };
    })();
    this.making.set(id, made);
    try {
      return await made;
    } finally {
      this.making.delete(id);
    }
  }

  async update(key: PortalKey, changes: Pick<PortalSpec, 'name' | 'topic' | 'avatarUrl'>): Promise<void> {
    const roomId = await this.roomFor(key);
    if (roomId === null) throw new Error('no portal to update; make it with ensure() first');
    await this.rooms.update(roomId, changes);
  }
}

/** Matches `/a/:id` against `/a/42`; the fake takes `:name` segments only. */
function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split('/');
  const got = path.split('?')[0]!.split('/');
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    if (w.startsWith(':')) params[w.slice(1)] = decodeURIComponent(got[i]!);
    else if (w !== got[i]) return null;
  }
  return params;
}

/**
 * A context for `plugin.start(ctx)` in a unit test. Ghost ids follow the descriptor's prefix exactly as
 * on the host (`@<ghostPrefix><escaped id>:<server>`).
 */
export function createFakeContext<Config>(
  descriptor: Pick<BridgeDescriptor, 'protocol' | 'ghostPrefix' | 'aliasPrefix' | 'httpPrefixes' | 'networkName'>,
  config: Config,
  options: FakeContextOptions = {},
): FakeContext<Config> {
  const serverName = options.serverName ?? 'hs.test';
  const logger = pino({ level: process.env.PATCHBAY_TEST_LOG_LEVEL ?? process.env.PATCHBAY_TEST_LOG ?? 'silent' });
  const hs = new FakeMatrix(serverName);
  const intents = new Map<string, FakeIntent>();
  const intentFor = (userId: string): FakeIntent => {
    let intent = intents.get(userId);
    if (intent === undefined) intents.set(userId, (intent = new FakeIntent(userId, hs)));
    return intent;
  };
  const bot = intentFor(`@patchbay:${serverName}`);
  const ghosts = new NamespacedGhostDirectory(descriptor.ghostPrefix, serverName, async (userId, profile) => {
    const intent = intentFor(userId);
    await intent.ensureRegistered();
    if (profile) await intent.setProfile(profile);
    return intent;
  });
  const links = new MemoryRoomLinks();
  const messages = new MemoryMessageMap();
  const store = new MemoryStore();
  const status = new MemoryBridgeStatus();

  // As the host's RoomVoice: the bot where it is joined, else a member ghost, else the bot (joining).
  const speaker = (roomId: string): FakeIntent => {
    const room = hs.room(roomId);
    if (room.members.get(bot.userId) === 'join') return bot;
    const member = [...room.members].find(([u, m]) => m === 'join' && ghosts.ownsUserId(u))?.[0];
    return member !== undefined ? intentFor(member) : bot;
  };

  const sent = new Set<string>();
  let chain: Promise<unknown> = Promise.resolve();
  const post = async (m: OutboundMessage): Promise<string> => {
    const intent = m.senderRemoteId === null ? speaker(m.roomId) : await ghosts.intent(m.senderRemoteId, m.senderProfile);
    const eventId = await intent.sendEvent(m.roomId, m.type, m.content);
    const recorded = hs.events.find((e) => e.eventId === eventId);
    if (recorded !== undefined) recorded.ts = m.timestamp;
    if (m.mapAs) await messages.set(m.mapAs, m.roomId, eventId);
    return eventId;
  };
  const outbox: Outbox = {
    enqueue: async (m) => {
      const id = `${m.roomId}\u0000${m.remoteId}`;
      if (sent.has(id)) return;
      sent.add(id);
      chain = chain.then(() => post(m)).catch((err: unknown) => logger.warn({ err }, 'fake outbox: delivery failed'));
    },
    send: async (m) => {
      sent.add(`${m.roomId}\u0000${m.remoteId}`);
      return post(m);
    },
  };

  const name = options.name ?? descriptor.protocol;
  const routes = new BridgeRoutes(name, descriptor.httpPrefixes ?? [], options.publicUrl ?? 'http://host.test');
  let sealed = false;
  const http: FakeHttp = {
    async request(method, path, request = {}) {
      if (!sealed) {
        // As the host does when start() returns.
        routes.seal();
        sealed = true;
      }
      for (const route of routes.routes) {
        const params = route.method === method ? match(route.mount + route.path, path) : null;
        if (params === null) continue;
        const raw = request.body;
        const body = raw === undefined ? new Uint8Array() : raw instanceof Uint8Array ? raw : new TextEncoder().encode(typeof raw === 'string' ? raw : JSON.stringify(raw));
        const headers = Object.fromEntries(Object.entries(request.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
        const parts = { method, path: path.slice(route.mount.length), params, query: request.query ?? {}, headers, body, remoteAddress: '127.0.0.1' };
        const response = await answerRoute(route, routes.hook, requestFrom(parts), logger);
        return { ...response, status: response.status ?? 200 };
      }
      return { status: 404, json: { errcode: 'M_UNRECOGNIZED', error: `Unrecognized request: ${method} ${path}` } };
    },
  };

  const ctx: BridgeContext<Config> = {
    config,
    serverName,
    logger,
    metrics: new PluginMetricsRegistry(new Registry(), descriptor.protocol),
    bot,
    ghosts,
    identities: new MemoryIdentityMap(),
    links,
    portals: new FakePortals(links, new PortalRooms({ ghosts, bot, serverName, aliasPrefix: descriptor.aliasPrefix, protocol: descriptor.protocol, networkName: descriptor.networkName, logger })),
    messages,
    outbox,
    store,
    http: routes,
    provisioning: new BridgeProvisioning({
      http: routes,
      bot,
      logger,
      openId: new OpenIdVerifier({
        homeserverUrl: 'http://hs.test',
        serverName,
        fetch: async (url) => {
          const token = new URL(String(url)).searchParams.get('access_token') ?? '';
          const owner = options.openIdTokens?.[token];
          return owner === undefined ? new Response('{"errcode":"M_UNKNOWN_TOKEN"}', { status: 401 }) : Response.json({ sub: owner });
        },
      }),
    }),
    status,
    dataDir: options.dataDir ?? mkdtempSync(join(tmpdir(), `patchbay-fake-${descriptor.protocol}-`)),
    notice: async (roomId, text) => {
      await speaker(roomId).sendEvent(roomId, 'm.room.message', { msgtype: 'm.notice', body: text });
    },
  };
  let delivered = 0;
  const deliver: FakeContext<Config>['deliver'] = async (plugin, partial, attempt = 1) => {
    const event: MatrixEvent = { event_id: `$fake${++delivered}:${serverName}`, type: 'm.room.message', origin_server_ts: Date.now(), ...partial };
    hs.rememberUserEvent(event);
    const fromBridge = event.sender === bot.userId || ghosts.ownsUserId(event.sender);
    const ectx = { attempt, relation: relationOf(event), fromBridge, logger: logger.child({ room_id: event.room_id, event_id: event.event_id }) };
    const call = plugin.onCallEvent ? normaliseCallEvent(event) : null;
    if (call && plugin.onCallEvent) await plugin.onCallEvent(call, ectx);
    else await plugin.onMatrixEvent(event, ectx);
    return event;
  };
  return { ctx, deliver, hs, intentFor, store, status, http, outboxSettled: () => chain.then(() => undefined) };
}
