// The IRC bridge's durable state in its PluginStore, mirrored in memory: which room is which channel,
// PM or admin room, users' chosen nicks, which puppets were connected to which channels (reconnected
// after a restart), and Matrix messages accepted but not yet proven delivered to IRC (resent on start).
import type { PluginStore } from '../../core/plugin/api.js';

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

  constructor(private readonly store: PluginStore) {}

  async load(): Promise<PendingMessage[]> {
    for (const key of await this.store.keys('room/')) {
      const value = await this.store.get(key);
      if (value === null) continue;
      try {
        this.remember(decodeURIComponent(key.slice('room/'.length)), JSON.parse(value) as RoomRole);
      } catch {
        // A corrupt entry must not stop the bridge; it is simply forgotten.
      }
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
    const pending: Array<{ key: string; message: PendingMessage }> = [];
    for (const key of await this.store.keys('pending/')) {
      const value = await this.store.get(key);
      if (value === null) continue;
      try {
        pending.push({ key, message: JSON.parse(value) as PendingMessage });
      } catch {
        await this.store.delete(key);
      }
    }
    pending.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const p of pending) await this.store.delete(p.key);
    return pending.map((p) => p.message);
  }

  private remember(roomId: string, role: RoomRole): void {
    this.rooms.set(roomId, role);
    if (role.kind === 'channel') this.channels.set(`${role.network}|${role.channel}`, roomId);
    else if (role.kind === 'pm') this.pms.set(`${role.network}|${role.userId}|${role.ghost}`, roomId);
    else this.admins.set(role.userId, roomId);
  }

  roleOf(roomId: string): RoomRole | undefined {
    return this.rooms.get(roomId);
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

  async setRoom(roomId: string, role: RoomRole): Promise<void> {
    await this.store.set(`room/${enc(roomId)}`, JSON.stringify(role));
    this.remember(roomId, role);
  }

  async forgetRoom(roomId: string): Promise<void> {
    const role = this.rooms.get(roomId);
    if (role === undefined) return;
    await this.store.delete(`room/${enc(roomId)}`);
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

  /** Records a message accepted from Matrix; returns the key to delete once IRC has it (or it failed visibly). */
  async addPending(message: PendingMessage): Promise<string> {
    const key = `pending/${String(Date.now()).padStart(15, '0')}-${String(++this.pendingSeq).padStart(9, '0')}`;
    await this.store.set(key, JSON.stringify(message));
    return key;
  }

  async removePending(key: string): Promise<void> {
    await this.store.delete(key);
  }
}
