// The plugin API's stores in memory, for unit tests: the same contracts as the Redis ones (a remote
// location belongs to one room, identities map both ways, lists append once per id), without Redis.
import { compareLocations, locationField, locationOf } from '../core/links/RemoteLocationField.js';
import type {
  BridgeStatus,
  ConnectionReport,
  ConnectionStatus,
  IdentityMap,
  MessageMap,
  PluginStore,
  RemoteLocation,
  RoomLink,
  RoomLinks,
} from '../core/plugin-api/index.js';

type RemoteMessage = RemoteLocation & { messageId: string };

export class MemoryStore implements PluginStore {
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
    return [...this.data.keys()].filter((k) => k.startsWith(prefix)).sort();
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
    const from = start < 0 ? Math.max(0, l.length + start) : start;
    const to = stop < 0 ? l.length + stop : stop;
    return l.slice(from, to + 1);
  }
}

export class MemoryIdentityMap implements IdentityMap {
  private readonly forward = new Map<string, string>();
  private readonly reverse = new Map<string, string>();

  async set(protocol: string, thirdPartyId: string, userId: string): Promise<void> {
    await this.remove(protocol, thirdPartyId);
    const old = this.reverse.get(`${protocol}|${userId}`);
    if (old !== undefined) this.forward.delete(`${protocol}|${old}`);
    this.forward.set(`${protocol}|${thirdPartyId}`, userId);
    this.reverse.set(`${protocol}|${userId}`, thirdPartyId);
  }
  async userIdFor(protocol: string, thirdPartyId: string): Promise<string | null> {
    return this.forward.get(`${protocol}|${thirdPartyId}`) ?? null;
  }
  async thirdPartyIdFor(protocol: string, userId: string): Promise<string | null> {
    return this.reverse.get(`${protocol}|${userId}`) ?? null;
  }
  async remove(protocol: string, thirdPartyId: string): Promise<void> {
    const user = this.forward.get(`${protocol}|${thirdPartyId}`);
    if (user === undefined) return;
    this.forward.delete(`${protocol}|${thirdPartyId}`);
    if (this.reverse.get(`${protocol}|${user}`) === thirdPartyId) this.reverse.delete(`${protocol}|${user}`);
  }
}

export class MemoryRoomLinks implements RoomLinks {
  private readonly roomOf = new Map<string, string>();
  private readonly byRoom = new Map<string, Map<string, RemoteLocation & { data: Record<string, string> }>>();

  async link(roomId: string, remote: RemoteLocation, data: Record<string, string> = {}): Promise<void> {
    const field = locationField(remote);
    const old = this.roomOf.get(field);
    if (old !== undefined && old !== roomId) this.byRoom.get(old)?.delete(field);
    this.roomOf.set(field, roomId);
    const remotes = this.byRoom.get(roomId) ?? new Map();
    remotes.set(field, { ...locationOf(remote), data: { ...data } });
    this.byRoom.set(roomId, remotes);
  }
  async unlink(roomId: string, remote: RemoteLocation): Promise<void> {
    const field = locationField(remote);
    if (this.roomOf.get(field) === roomId) this.roomOf.delete(field);
    this.byRoom.get(roomId)?.delete(field);
  }
  async roomFor(remote: RemoteLocation): Promise<string | null> {
    return this.roomOf.get(locationField(remote)) ?? null;
  }
  async remotesFor(roomId: string): Promise<Array<RemoteLocation & { data: Record<string, string> }>> {
    return [...(this.byRoom.get(roomId)?.values() ?? [])].sort(compareLocations);
  }
  async all(network?: string): Promise<RoomLink[]> {
    const out: RoomLink[] = [];
    for (const [roomId, remotes] of this.byRoom) {
      for (const r of remotes.values()) if (network === undefined || r.network === network) out.push({ ...r, roomId });
    }
    return out.sort(compareLocations);
  }
}

export class MemoryMessageMap implements MessageMap {
  private readonly byRemote = new Map<string, { roomId: string; eventId: string }>();
  private readonly byEvent = new Map<string, RemoteMessage>();

  async set(remote: RemoteMessage, roomId: string, eventId: string): Promise<void> {
    this.byRemote.set(locationField(remote, remote.messageId), { roomId, eventId });
    this.byEvent.set(eventId, { ...locationOf(remote), messageId: remote.messageId });
  }
  async eventFor(remote: RemoteMessage): Promise<{ roomId: string; eventId: string } | null> {
    return this.byRemote.get(locationField(remote, remote.messageId)) ?? null;
  }
  async remoteFor(eventId: string): Promise<RemoteMessage | null> {
    return this.byEvent.get(eventId) ?? null;
  }
}

/** ctx.status in one process: what the bridge reported, newest state per connection, for tests to read. */
export class MemoryBridgeStatus implements BridgeStatus {
  private readonly entries = new Map<string, ConnectionStatus>();

  report(connection: string, report: ConnectionReport): void {
    const now = Date.now();
    const before = this.entries.get(connection);
    this.entries.set(connection, { connection, ...report, since: before?.state === report.state ? before.since : now, updatedAt: now, stale: false });
  }

  remove(connection: string): void {
    this.entries.delete(connection);
  }

  async all(): Promise<ConnectionStatus[]> {
    return this.now();
  }

  /** The same as all(), synchronously. */
  now(): ConnectionStatus[] {
    return [...this.entries.values()].sort((a, b) => (a.connection < b.connection ? -1 : 1));
  }

  /** One connection's state, or undefined when it never reported. */
  stateOf(connection: string): ConnectionStatus['state'] | undefined {
    return this.entries.get(connection)?.state;
  }
}
