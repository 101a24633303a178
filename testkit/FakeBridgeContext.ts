// A hand-written BridgeContext for unit tests of the plugin: an in-memory "homeserver" that records
// what the bridge's intents do (rooms, members, events, profiles), plus in-memory stores. The real host
// and homeserver replace it in the end-to-end tests.
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { PluginMetricsRegistry } from '../core/metrics/PluginMetricsRegistry.js';
import { BridgeRoutes } from '../core/plugin/BridgeRoutes.js';
import type {
  BridgeContext,
  GhostDirectory,
  GhostProfile,
  IdentityMap,
  Intent,
  MatrixEvent,
  MediaContent,
  MessageMap,
  OutboundMessage,
  Outbox,
  PluginStore,
  RemoteLocation,
  RoomLink,
  RoomLinks,
} from '../core/plugin-api/index.js';

export interface RecordedEvent {
  eventId: string;
  roomId: string;
  sender: string;
  type: string;
  stateKey?: string;
  content: Record<string, unknown>;
  ts?: number;
}

export interface FakeRoom {
  id: string;
  creator: string;
  members: Map<string, 'join' | 'invite' | 'leave' | 'ban'>;
  state: Map<string, Record<string, unknown>>;
  aliases: string[];
  createOptions: Record<string, unknown>;
}

function escapeLocalpart(remoteId: string): string {
  let out = '';
  for (let byte of new TextEncoder().encode(remoteId)) {
    if (byte >= 0x41 && byte <= 0x5a) byte += 0x20;
    const ch = String.fromCharCode(byte);
    out += /[a-z0-9._\-/]/.test(ch) ? ch : `=${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

function unescapeLocalpart(escaped: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < escaped.length; i++) {
    if (escaped[i] === '=') {
      bytes.push(parseInt(escaped.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(escaped.charCodeAt(i));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

export class FakeMatrix {
  readonly rooms = new Map<string, FakeRoom>();
  readonly events: RecordedEvent[] = [];
  readonly profiles = new Map<string, GhostProfile>();
  readonly registered = new Set<string>();
  readonly aliases = new Map<string, string>();
  /** Called for every recorded event (benchmarks time events with it). */
  onEvent: ((event: RecordedEvent) => void) | null = null;
  private counter = 0;

  constructor(readonly serverName: string) {}

  nextId(sigil: string): string {
    return `${sigil}${++this.counter}:${this.serverName}`;
  }

  room(roomId: string): FakeRoom {
    const room = this.rooms.get(roomId);
    if (room === undefined) throw new Error(`M_NOT_FOUND: no room ${roomId}`);
    return room;
  }

  /** A room a real Matrix user made (the test side), e.g. a DM with a ghost. */
  createUserRoom(creator: string, invite: string[] = []): string {
    const id = this.nextId('!');
    this.rooms.set(id, { id, creator, members: new Map([[creator, 'join'], ...invite.map((u) => [u, 'invite'] as const)]), state: new Map(), aliases: [], createOptions: {} });
    return id;
  }

  record(event: Omit<RecordedEvent, 'eventId'>): string {
    const eventId = this.nextId('$');
    const recorded = { eventId, ...event };
    this.events.push(recorded);
    this.onEvent?.(recorded);
    return eventId;
  }

  /** Events real Matrix users sent (the tests hand them to the bridge), so getEvent finds them too. */
  readonly userEvents = new Map<string, MatrixEvent>();

  rememberUserEvent(event: MatrixEvent): void {
    this.userEvents.set(event.event_id, event);
  }

  getEvent(eventId: string): MatrixEvent | null {
    const user = this.userEvents.get(eventId);
    if (user !== undefined) return user;
    const e = this.events.find((x) => x.eventId === eventId);
    if (e === undefined) return null;
    return {
      event_id: e.eventId,
      room_id: e.roomId,
      sender: e.sender,
      type: e.type,
      content: e.content,
      origin_server_ts: e.ts ?? 0,
      ...(e.stateKey !== undefined ? { state_key: e.stateKey } : {}),
    };
  }

  messages(roomId: string): RecordedEvent[] {
    return this.events.filter((e) => e.roomId === roomId && e.type === 'm.room.message');
  }

  notices(roomId?: string): string[] {
    return this.events
      .filter((e) => (roomId === undefined || e.roomId === roomId) && e.type === 'm.room.message' && e.content.msgtype === 'm.notice')
      .map((e) => String(e.content.body));
  }

  async waitFor<T>(probe: () => T | undefined | null | false, timeoutMs = 15_000, what = 'condition'): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = probe();
      if (v !== undefined && v !== null && v !== false) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last events: ${JSON.stringify(this.events.slice(-6))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

export class FakeIntent implements Intent {
  constructor(
    readonly userId: string,
    private readonly hs: FakeMatrix,
  ) {}

  async ensureRegistered(): Promise<void> {
    this.hs.registered.add(this.userId);
  }

  async ensureJoined(roomId: string): Promise<void> {
    const room = this.hs.room(roomId);
    if (room.members.get(this.userId) === 'join') return;
    if (room.members.get(this.userId) === 'ban') throw new Error('M_FORBIDDEN: banned');
    room.members.set(this.userId, 'join');
    this.hs.record({ roomId, sender: this.userId, type: 'm.room.member', stateKey: this.userId, content: { membership: 'join' } });
  }

  async setProfile(profile: GhostProfile): Promise<void> {
    this.hs.profiles.set(this.userId, { ...this.hs.profiles.get(this.userId), ...profile });
  }

  async sendEvent(roomId: string, type: string, content: Record<string, unknown>): Promise<string> {
    await this.ensureJoined(roomId);
    return this.hs.record({ roomId, sender: this.userId, type, content });
  }

  async sendState(roomId: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<string> {
    await this.ensureJoined(roomId);
    this.hs.room(roomId).state.set(`${type}|${stateKey}`, content);
    return this.hs.record({ roomId, sender: this.userId, type, stateKey, content });
  }

  async createRoom(options: Record<string, unknown>): Promise<string> {
    const id = this.hs.nextId('!');
    const room: FakeRoom = { id, creator: this.userId, members: new Map([[this.userId, 'join']]), state: new Map(), aliases: [], createOptions: options };
    this.hs.rooms.set(id, room);
    for (const u of (options.invite as string[] | undefined) ?? []) room.members.set(u, 'invite');
    if (typeof options.room_alias_name === 'string') {
      const alias = `#${options.room_alias_name}:${this.hs.serverName}`;
      if (this.hs.aliases.has(alias)) throw new Error('M_ROOM_IN_USE');
      this.hs.aliases.set(alias, id);
      room.aliases.push(alias);
    }
    return id;
  }

  async invite(roomId: string, userId: string): Promise<void> {
    this.hs.room(roomId).members.set(userId, 'invite');
  }

  async join(roomIdOrAlias: string): Promise<string> {
    const roomId = roomIdOrAlias.startsWith('#') ? this.hs.aliases.get(roomIdOrAlias) : roomIdOrAlias;
    if (roomId === undefined) throw new Error('M_NOT_FOUND');
    await this.ensureJoined(roomId);
    return roomId;
  }

  async leave(roomId: string, reason?: string): Promise<void> {
    this.hs.room(roomId).members.set(this.userId, 'leave');
    this.hs.record({ roomId, sender: this.userId, type: 'm.room.member', stateKey: this.userId, content: { membership: 'leave', reason } });
  }

  async kick(roomId: string, userId: string, reason?: string): Promise<void> {
    this.hs.room(roomId).members.set(userId, 'leave');
    this.hs.record({ roomId, sender: this.userId, type: 'm.room.member', stateKey: userId, content: { membership: 'leave', reason } });
  }

  async redact(roomId: string, eventId: string, reason?: string): Promise<void> {
    this.hs.record({ roomId, sender: this.userId, type: 'm.room.redaction', content: { redacts: eventId, reason } });
  }

  async setTyping(): Promise<void> {}

  async createAlias(alias: string, roomId: string): Promise<void> {
    if (this.hs.aliases.has(alias)) throw new Error('M_UNKNOWN: alias exists');
    this.hs.aliases.set(alias, roomId);
  }

  async resolveAlias(alias: string): Promise<string | null> {
    return this.hs.aliases.get(alias) ?? null;
  }

  async getStateEvent(roomId: string, type: string, stateKey: string): Promise<Record<string, unknown> | null> {
    return this.hs.room(roomId).state.get(`${type}|${stateKey}`) ?? null;
  }

  async getEvent(roomId: string, eventId: string): Promise<MatrixEvent | null> {
    const e = this.hs.getEvent(eventId);
    return e !== null && e.room_id === roomId ? e : null;
  }

  async joinedMembers(roomId: string): Promise<Record<string, { display_name?: string }>> {
    const out: Record<string, { display_name?: string }> = {};
    for (const [u, m] of this.hs.room(roomId).members) if (m === 'join') out[u] = { display_name: this.hs.profiles.get(u)?.displayName };
    return out;
  }

  async getProfile(userId: string): Promise<GhostProfile> {
    return this.hs.profiles.get(userId) ?? {};
  }

  async uploadMedia(): Promise<string> {
    return `mxc://${this.hs.serverName}/media`;
  }

  async downloadMedia(mxcUri: string): Promise<MediaContent> {
    return { mxcUri, bytes: new Uint8Array(), mimetype: 'application/octet-stream', filename: 'file' };
  }
}

class MemoryStore implements PluginStore {
  readonly data = new Map<string, string>();
  private readonly lists = new Map<string, string[]>();
  private readonly listIds = new Map<string, Set<string>>();

  async get(key: string): Promise<string | null> {
    return this.data.get(key) ?? null;
  }
  async set(key: string, value: string): Promise<void> {
    this.data.set(key, value);
  }
  async setIfAbsent(key: string, value: string): Promise<boolean> {
    if (this.data.has(key)) return false;
    this.data.set(key, value);
    return true;
  }
  async delete(key: string): Promise<void> {
    this.data.delete(key);
  }
  async keys(prefix: string): Promise<string[]> {
    return [...this.data.keys()].filter((k) => k.startsWith(prefix));
  }
  async append(list: string, value: string): Promise<number> {
    const l = this.lists.get(list) ?? [];
    l.push(value);
    this.lists.set(list, l);
    return l.length;
  }
  async appendOnce(list: string, uniqueId: string, value: string): Promise<boolean> {
    const ids = this.listIds.get(list) ?? new Set<string>();
    if (ids.has(uniqueId)) return false;
    ids.add(uniqueId);
    this.listIds.set(list, ids);
    await this.append(list, value);
    return true;
  }
  async readList(list: string, start = 0, stop = -1): Promise<string[]> {
    const l = this.lists.get(list) ?? [];
    return l.slice(start, stop === -1 ? undefined : stop + 1);
  }
}

const locKey = (r: RemoteLocation): string => `${r.network}\u0000${r.location}`;

export function createFakeContext<Config>(config: Config, serverName = 'hs.test') {
  const hs = new FakeMatrix(serverName);
  const intents = new Map<string, FakeIntent>();
  const intentFor = (userId: string): FakeIntent => {
    let i = intents.get(userId);
    if (i === undefined) {
      i = new FakeIntent(userId, hs);
      intents.set(userId, i);
    }
    return i;
  };
  const bot = intentFor(`@patchbay:${serverName}`);
  const ghosts: GhostDirectory = {
    userIdFor: (remoteId) => `@irc_${escapeLocalpart(remoteId)}:${serverName}`,
    remoteIdOf: (userId) => (userId.startsWith('@irc_') && userId.endsWith(`:${serverName}`) ? unescapeLocalpart(userId.slice(5, userId.length - serverName.length - 1)) : null),
    intent: async (remoteId, profile) => {
      const intent = intentFor(ghosts.userIdFor(remoteId));
      await intent.ensureRegistered();
      if (profile) await intent.setProfile(profile);
      return intent;
    },
  };
  const idMap = new Map<string, string>();
  const identities: IdentityMap = {
    set: async (p, t, u) => void idMap.set(`${p}|${t}`, u),
    userIdFor: async (p, t) => idMap.get(`${p}|${t}`) ?? null,
    thirdPartyIdFor: async (p, u) => [...idMap].find(([k, v]) => v === u && k.startsWith(`${p}|`))?.[0].slice(p.length + 1) ?? null,
    remove: async (p, t) => void idMap.delete(`${p}|${t}`),
  };
  const linkRooms = new Map<string, string>();
  const roomLinks = new Map<string, Array<RemoteLocation & { data: Record<string, string> }>>();
  const links: RoomLinks = {
    link: async (roomId, remote, data = {}) => {
      linkRooms.set(locKey(remote), roomId);
      roomLinks.set(roomId, [...(roomLinks.get(roomId) ?? []).filter((r) => locKey(r) !== locKey(remote)), { ...remote, data }]);
    },
    unlink: async (roomId, remote) => {
      linkRooms.delete(locKey(remote));
      roomLinks.set(roomId, (roomLinks.get(roomId) ?? []).filter((r) => locKey(r) !== locKey(remote)));
    },
    roomFor: async (remote) => linkRooms.get(locKey(remote)) ?? null,
    remotesFor: async (roomId) => roomLinks.get(roomId) ?? [],
    all: async (network) => {
      const out: RoomLink[] = [];
      for (const [roomId, remotes] of roomLinks) {
        for (const r of remotes) if ((network === undefined || r.network === network) && linkRooms.get(locKey(r)) === roomId) out.push({ ...r, roomId });
      }
      return out.sort((a, b) => a.network.localeCompare(b.network) || a.location.localeCompare(b.location));
    },
  };
  const byRemote = new Map<string, { roomId: string; eventId: string }>();
  const byEvent = new Map<string, RemoteLocation & { messageId: string }>();
  const messages: MessageMap = {
    set: async (remote, roomId, eventId) => {
      byRemote.set(`${locKey(remote)}\u0000${remote.messageId}`, { roomId, eventId });
      byEvent.set(eventId, remote);
    },
    eventFor: async (remote) => byRemote.get(`${locKey(remote)}\u0000${remote.messageId}`) ?? null,
    remoteFor: async (eventId) => byEvent.get(eventId) ?? null,
  };
  const sentRemoteIds = new Set<string>();
  const deliver = async (m: OutboundMessage): Promise<string> => {
    const intent = m.senderRemoteId === null ? bot : await ghosts.intent(m.senderRemoteId, m.senderProfile);
    const eventId = await intent.sendEvent(m.roomId, m.type, m.content);
    const recorded = hs.events.find((e) => e.eventId === eventId);
    if (recorded !== undefined) recorded.ts = m.timestamp;
    if (m.mapAs) await messages.set(m.mapAs, m.roomId, eventId);
    return eventId;
  };
  let outboxChain: Promise<unknown> = Promise.resolve();
  const outbox: Outbox = {
    enqueue: async (m) => {
      if (sentRemoteIds.has(m.remoteId)) return;
      sentRemoteIds.add(m.remoteId);
      outboxChain = outboxChain.then(() => deliver(m)).catch(() => undefined);
    },
    send: async (m) => {
      sentRemoteIds.add(m.remoteId);
      return deliver(m);
    },
  };
  const store = new MemoryStore();
  const ctx: BridgeContext<Config> = {
    config,
    serverName,
    logger: pino({ level: process.env.PATCHBAY_TEST_LOG ?? 'silent' }),
    metrics: new PluginMetricsRegistry(new Registry(), 'irc'),
    bot,
    ghosts,
    identities,
    links,
    messages,
    outbox,
    store,
    http: new BridgeRoutes('irc', [], null),
    // As the runtime does: the bot where it is joined, else a member ghost, else the bot (joining).
    notice: async (roomId, text) => {
      const room = hs.room(roomId);
      const content = { msgtype: 'm.notice', body: text };
      if (room.members.get(bot.userId) === 'join') {
        await bot.sendEvent(roomId, 'm.room.message', content);
        return;
      }
      const member = [...room.members].find(([u, m]) => m === 'join' && ghosts.remoteIdOf(u) !== null)?.[0];
      await (member !== undefined ? intentFor(member) : bot).sendEvent(roomId, 'm.room.message', content);
    },
  };
  return { ctx, hs, intentFor, store };
}
