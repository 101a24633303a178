// The IRC bridge's durable state, mirrored in memory: which room is which channel, PM or admin room (the
// host's room links, with the role in the link data: the bridge keeps no index of its own), and in its
// PluginStore users' chosen nicks, which puppets were connected to which channels (reconnected after a
// restart), and Matrix messages accepted but not yet proven delivered to IRC (resent on start).
import type { PluginStore, RemoteLocation, RoomLink, RoomLinks } from 'patchbay-matrix/plugin';

export type RoomRole =
  | { kind: 'channel'; network: string; channel: string; key?: string }
  | { kind: 'pm'; network: string; userId: string; ghost: string }
  | { kind: 'admin'; userId: string };

export interface PendingMessage {
  eventId: string;
  network: string;
  userId: string;
  roomId: string;
  target: string;
  text: string;
  kind: 'privmsg' | 'notice' | 'action';
  /** When it was first accepted (sorts the resend after a restart); set by addPending. */
  order?: string;
}

/** Marks a Matrix message whose delivery is over (on IRC, or told in the room as undeliverable). */
export function deliveredKey(eventId: string): string {
  return `seen/${eventId}`;
}

function pendingKey(eventId: string): string {
  return `pending/${enc(eventId)}`;
}

const enc = encodeURIComponent;

export class IrcBridgeState {
  private readonly rooms = new Map<string, RoomRole>();
  private readonly channels = new Map<string, string>();
  private readonly pms = new Map<string, string>();
  private readonly admins = new Map<string, string>();
  private readonly nicks = new Map<string, string>();
  private readonly puppets = new Map<string, string[]>();
  private pendingSeq = 0;

  constructor(
    private readonly store: PluginStore,
    private readonly links: RoomLinks,
  ) {}

  async load(): Promise<PendingMessage[]> {
    for (const link of await this.links.all()) {
      const role = roleOfLink(link);
      if (role !== null) this.remember(link.roomId, role);
    }
    // Rooms recorded in the plugin store by earlier versions move to the room links once.
    for (const key of await this.store.keys('room/')) {
      const value = await this.store.get(key);
      try {
        if (value !== null) await this.setRoom(decodeURIComponent(key.slice('room/'.length)), JSON.parse(value) as RoomRole);
      } catch {
        // A corrupt entry must not stop the bridge; it is simply forgotten.
      }
      await this.store.delete(key);
    }
    for (const key of await this.store.keys('nick/')) {
      const value = await this.store.get(key);
      if (value !== null) this.nicks.set(key.slice('nick/'.length), value);
    }
    for (const key of await this.store.keys('puppet/')) {
      const value = await this.store.get(key);
      if (value === null) continue;
      try {
        this.puppets.set(key.slice('puppet/'.length), JSON.parse(value) as string[]);
      } catch {
        /* ignored, as above */
      }
    }
    const pending: PendingMessage[] = [];
    for (const key of await this.store.keys('pending/')) {
      const value = await this.store.get(key);
      if (value === null) continue;
      let message: PendingMessage;
      try {
        message = JSON.parse(value) as PendingMessage;
      } catch {
        await this.store.delete(key);
        continue;
      }
      // Delivered just before the process stopped, its record not yet removed.
      if ((await this.store.get(deliveredKey(message.eventId))) !== null) await this.store.delete(key);
      else pending.push(message);
    }
    // The records stay until each is delivered again (send() rewrites them under the same key).
    return pending.sort((a, b) => ((a.order ?? '') < (b.order ?? '') ? -1 : (a.order ?? '') > (b.order ?? '') ? 1 : 0));
  }

  private remember(roomId: string, role: RoomRole): void {
    // A channel relinked to another room leaves its old room (the links moved it too).
    const previous = role.kind === 'channel' ? this.channels.get(`${role.network}|${role.channel}`) : undefined;
    if (previous !== undefined && previous !== roomId) this.rooms.delete(previous);
    this.rooms.set(roomId, role);
    if (role.kind === 'channel') this.channels.set(`${role.network}|${role.channel}`, roomId);
    else if (role.kind === 'pm') this.pms.set(`${role.network}|${role.userId}|${role.ghost}`, roomId);
    else this.admins.set(role.userId, roomId);
  }

  roleOf(roomId: string): RoomRole | undefined {
    return this.rooms.get(roomId);
  }

  /**
   * The role of a room this state has not seen, from its room links: a link made elsewhere (the host moves
   * a room's links to its replacement when the room is upgraded, possibly on another worker).
   */
  async roleFromLinks(roomId: string): Promise<RoomRole | undefined> {
    const known = this.rooms.get(roomId);
    if (known !== undefined) return known;
    for (const remote of await this.links.remotesFor(roomId)) {
      const role = roleOfLink({ ...remote, roomId });
      if (role === null) continue;
      this.remember(roomId, role);
      return role;
    }
    return undefined;
  }

  /** `channel` must be folded by the caller (the network's case mapping). */
  roomForChannel(network: string, foldedChannel: string): string | undefined {
    return this.channels.get(`${network}|${foldedChannel}`);
  }

  channelRooms(): Array<{ roomId: string; role: Extract<RoomRole, { kind: 'channel' }> }> {
    return [...this.rooms].filter(([, r]) => r.kind === 'channel').map(([roomId, role]) => ({ roomId, role: role as Extract<RoomRole, { kind: 'channel' }> }));
  }

  pmRoom(network: string, userId: string, ghost: string): string | undefined {
    return this.pms.get(`${network}|${userId}|${ghost}`);
  }

  adminRoom(userId: string): string | undefined {
    return this.admins.get(userId);
  }

  /** Every user's admin room (where network outages are told). */
  adminRooms(): string[] {
    return [...this.admins.values()];
  }

  async setRoom(roomId: string, role: RoomRole): Promise<void> {
    const { remote, data } = linkOfRole(role);
    await this.links.link(roomId, remote, data);
    this.remember(roomId, role);
  }

  /** The room's role passes to its replacement (a room upgrade); linking again is harmless if already moved. */
  async moveRoom(from: string, to: string): Promise<void> {
    const role = this.rooms.get(from);
    if (role === undefined || from === to) return;
    this.rooms.delete(from);
    await this.setRoom(to, role);
  }

  async forgetRoom(roomId: string): Promise<void> {
    const role = this.rooms.get(roomId);
    if (role === undefined) return;
    await this.links.unlink(roomId, linkOfRole(role).remote);
    this.rooms.delete(roomId);
    if (role.kind === 'channel') this.channels.delete(`${role.network}|${role.channel}`);
    else if (role.kind === 'pm') this.pms.delete(`${role.network}|${role.userId}|${role.ghost}`);
    else this.admins.delete(role.userId);
  }

  fixedNick(network: string, userId: string): string | null {
    return this.nicks.get(`${network}|${enc(userId)}`) ?? null;
  }

  async setFixedNick(network: string, userId: string, nick: string | null): Promise<void> {
    const key = `${network}|${enc(userId)}`;
    if (nick === null) {
      this.nicks.delete(key);
      await this.store.delete(`nick/${key}`);
    } else {
      this.nicks.set(key, nick);
      await this.store.set(`nick/${key}`, nick);
    }
  }

  /** Puppets to reconnect after a restart: network, user and the channels they were in. */
  puppetsToRestore(): Array<{ network: string; userId: string; channels: string[] }> {
    return [...this.puppets].map(([key, channels]) => {
      const [network, user] = key.split('|') as [string, string];
      return { network, userId: decodeURIComponent(user), channels };
    });
  }

  async setPuppetChannels(network: string, userId: string, channels: string[] | null): Promise<void> {
    const key = `${network}|${enc(userId)}`;
    if (channels === null) {
      if (!this.puppets.delete(key)) return;
      await this.store.delete(`puppet/${key}`);
      return;
    }
    const before = this.puppets.get(key);
    if (before !== undefined && before.length === channels.length && before.every((c, i) => c === channels[i])) return;
    this.puppets.set(key, channels);
    await this.store.set(`puppet/${key}`, JSON.stringify(channels));
  }

  /**
   * Records a message accepted from Matrix, under its event id (so a redelivered event finds it); returns
   * the key to delete once IRC has it (or it failed visibly).
   */
  async addPending(message: PendingMessage): Promise<string> {
    const order = message.order ?? `${String(Date.now()).padStart(15, '0')}-${String(++this.pendingSeq).padStart(9, '0')}`;
    const key = pendingKey(message.eventId);
    await this.store.set(key, JSON.stringify({ ...message, order }));
    return key;
  }

  /** True while a message of this event is recorded and not yet delivered. */
  async isPending(eventId: string): Promise<boolean> {
    return (await this.store.get(pendingKey(eventId))) !== null;
  }

  async removePending(key: string): Promise<void> {
    await this.store.delete(key);
  }
}

/** Where a room's role lives in the room links: the remote it is linked to and the link data. */
export function linkOfRole(role: RoomRole): { remote: RemoteLocation; data: Record<string, string> } {
  switch (role.kind) {
    case 'channel':
      return { remote: { network: role.network, location: role.channel }, data: { kind: 'channel', ...(role.key !== undefined ? { key: role.key } : {}) } };
    case 'pm':
      return { remote: { network: role.network, location: `pm/${role.userId}/${role.ghost}` }, data: { kind: 'pm', user: role.userId, ghost: role.ghost } };
    case 'admin':
      return { remote: { network: '*', location: `admin/${role.userId}` }, data: { kind: 'admin', user: role.userId } };
  }
}

/** The role a link stands for, or null for a link this bridge did not make. */
export function roleOfLink(link: RoomLink): RoomRole | null {
  const { data } = link;
  if (data.kind === 'channel' || (data.kind === undefined && /^[#&+!]/.test(link.location))) {
    return { kind: 'channel', network: link.network, channel: link.location, ...(data.key !== undefined ? { key: data.key } : {}) };
  }
  if (data.kind === 'pm') {
    const m = /^pm\/(@[^/]+)\/(.+)$/.exec(link.location);
    const userId = data.user ?? m?.[1];
    const ghost = data.ghost ?? m?.[2];
    return userId !== undefined && ghost !== undefined ? { kind: 'pm', network: link.network, userId, ghost } : null;
  }
  if (data.kind === 'admin') {
    const userId = data.user ?? (link.location.startsWith('admin/') ? link.location.slice('admin/'.length) : undefined);
    return userId !== undefined && userId !== '' ? { kind: 'admin', userId } : null;
  }
  return null;
}
