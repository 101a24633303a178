// An in-memory stand-in for the homeserver, for unit tests of a plugin: it records what the plugin's
// intents do (rooms, members, events, profiles, aliases) and answers their questions from that record.
// Failures are MatrixApiErrors with the spec's errcodes, as the real intents throw them.
import { MatrixApiError, type GhostProfile, type Intent, type MatrixEvent, type MediaContent, type PresenceState } from '../core/plugin-api/index.js';

export interface RecordedEvent {
  eventId: string;
  roomId: string;
  sender: string;
  type: string;
  stateKey?: string;
  content: Record<string, unknown>;
  ts?: number;
}

export type Membership = 'join' | 'invite' | 'leave' | 'ban';

export interface FakeRoom {
  id: string;
  creator: string;
  members: Map<string, Membership>;
  /** State by `type|state_key`. */
  state: Map<string, Record<string, unknown>>;
  aliases: string[];
  /** What createRoom was called with (preset, invite, is_direct, power_level_content_override, ...). */
  createOptions: Record<string, unknown>;
}

const fail = (status: number, errcode: string, reason: string): MatrixApiError => new MatrixApiError(status, errcode, reason, 'FAKE', '/');

export class FakeMatrix {
  readonly rooms = new Map<string, FakeRoom>();
  readonly events: RecordedEvent[] = [];
  readonly profiles = new Map<string, GhostProfile>();
  readonly registered = new Set<string>();
  /** What intents set with setPresence, by user. */
  readonly presence = new Map<string, { presence: PresenceState; statusMsg?: string }>();
  readonly aliases = new Map<string, string>();
  /** Events real Matrix users sent (the tests hand them to the plugin), so getEvent finds them too. */
  readonly userEvents = new Map<string, MatrixEvent>();
  /** Called for every recorded event (benchmarks time events with it). */
  onEvent: ((event: RecordedEvent) => void) | null = null;
  private counter = 0;

  constructor(readonly serverName: string) {}

  nextId(sigil: string): string {
    return `${sigil}${++this.counter}:${this.serverName}`;
  }

  room(roomId: string): FakeRoom {
    const room = this.rooms.get(roomId);
    if (room === undefined) throw fail(404, 'M_NOT_FOUND', `no room ${roomId}`);
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

  /** The m.room.message events of a room, in order. */
  messages(roomId: string): RecordedEvent[] {
    return this.events.filter((e) => e.roomId === roomId && e.type === 'm.room.message');
  }

  /** The bodies of m.notice messages (of one room, or all). */
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

/** One user acting on the FakeMatrix, as the host's intents act on a homeserver. */
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
    const membership = room.members.get(this.userId);
    if (membership === 'join') return;
    if (membership === 'ban') throw fail(403, 'M_FORBIDDEN', `${this.userId} is banned from ${roomId}`);
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
    const alias = typeof options.room_alias_name === 'string' ? `#${options.room_alias_name}:${this.hs.serverName}` : null;
    if (alias !== null && this.hs.aliases.has(alias)) throw fail(400, 'M_ROOM_IN_USE', `alias ${alias} already exists`);
    const id = this.hs.nextId('!');
    const room: FakeRoom = { id, creator: this.userId, members: new Map([[this.userId, 'join']]), state: new Map(), aliases: [], createOptions: options };
    this.hs.rooms.set(id, room);
    const state = (type: string, content: Record<string, unknown>): void => void room.state.set(`${type}|`, content);
    state('m.room.join_rules', { join_rule: options.preset === 'public_chat' ? 'public' : 'invite' });
    if (typeof options.name === 'string') state('m.room.name', { name: options.name });
    if (typeof options.topic === 'string') state('m.room.topic', { topic: options.topic });
    for (const s of (options.initial_state as Array<{ type: string; state_key?: string; content: Record<string, unknown> }> | undefined) ?? []) {
      room.state.set(`${s.type}|${s.state_key ?? ''}`, s.content);
    }
    for (const u of (options.invite as string[] | undefined) ?? []) room.members.set(u, 'invite');
    if (alias !== null) {
      this.hs.aliases.set(alias, id);
      room.aliases.push(alias);
      state('m.room.canonical_alias', { alias });
    }
    return id;
  }

  async invite(roomId: string, userId: string): Promise<void> {
    this.hs.room(roomId).members.set(userId, 'invite');
  }

  async join(roomIdOrAlias: string): Promise<string> {
    const roomId = roomIdOrAlias.startsWith('#') ? this.hs.aliases.get(roomIdOrAlias) : roomIdOrAlias;
    if (roomId === undefined) throw fail(404, 'M_NOT_FOUND', `no room has the alias ${roomIdOrAlias}`);
    const room = this.hs.room(roomId);
    const open = room.state.get('m.room.join_rules|')?.join_rule !== 'invite';
    if (!open && room.members.get(this.userId) === undefined) throw fail(403, 'M_FORBIDDEN', `${this.userId} is not invited to ${roomId}`);
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

  async setPresence(presence: PresenceState, statusMsg?: string): Promise<void> {
    this.hs.presence.set(this.userId, statusMsg === undefined ? { presence } : { presence, statusMsg });
  }

  async createAlias(alias: string, roomId: string): Promise<void> {
    if (this.hs.aliases.has(alias)) throw fail(409, 'M_UNKNOWN', `alias ${alias} already exists`);
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
