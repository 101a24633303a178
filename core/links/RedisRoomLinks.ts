import type { Redis } from 'ioredis';
import type { RemoteLocation, RoomLink, RoomLinks } from '../plugin-api/index.js';
import type { BridgeKeyspace } from '../store/BridgeKeyspace.js';
import { compareLocations, locationField, parseLocationField } from './RemoteLocationField.js';

// A remote location belongs to at most one room; a room may carry several remotes. `by-remote` maps
// the location's field (RemoteLocationField) -> room; `room:<id>` maps it -> JSON data. One script keeps both
// sides in step, so relinking a remote moves it instead of leaving a stale reverse entry.
const LINK = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old and old ~= ARGV[2] then redis.call('HDEL', ARGV[4] .. old, ARGV[1]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', ARGV[4] .. ARGV[2], ARGV[1], ARGV[3])
return 1`;

const UNLINK = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
redis.call('HDEL', ARGV[3] .. ARGV[2], ARGV[1])
return 1`;

/** Matrix rooms <-> remote places (channels, numbers, mailboxes) of one bridge. */
export class RedisRoomLinks implements RoomLinks {
  private readonly byRemote: string;
  private readonly roomPrefix: string;

  constructor(
    private readonly redis: Redis,
    keyspace: BridgeKeyspace,
  ) {
    this.byRemote = keyspace.key('links', 'by-remote');
    this.roomPrefix = keyspace.key('links', 'room', '');
  }

  /** The key holding a room's remotes; it exists exactly while the room has a link. */
  roomKey(roomId: string): string {
    return this.roomPrefix + roomId;
  }

  async link(roomId: string, remote: RemoteLocation, data: Record<string, string> = {}): Promise<void> {
    // Room keys are computed inside the script from ARGV so relinking can touch the old room's key;
    // they share the bridge's hash tag, so this stays within one Cluster slot.
    await this.redis.eval(LINK, 1, this.byRemote, locationField(remote), roomId, JSON.stringify(data), this.roomPrefix);
  }

  async unlink(roomId: string, remote: RemoteLocation): Promise<void> {
    await this.redis.eval(UNLINK, 1, this.byRemote, locationField(remote), roomId, this.roomPrefix);
  }

  async roomFor(remote: RemoteLocation): Promise<string | null> {
    return this.redis.hget(this.byRemote, locationField(remote));
  }

  async remotesFor(roomId: string): Promise<Array<RemoteLocation & { data: Record<string, string> }>> {
    const entries = await this.redis.hgetall(this.roomKey(roomId));
    const out: Array<RemoteLocation & { data: Record<string, string> }> = [];
    for (const [field, json] of Object.entries(entries)) {
      const remote = parseLocationField(field);
      if (!remote) continue;
      const data: unknown = JSON.parse(json);
      out.push({ ...remote, data: isStringRecord(data) ? data : {} });
    }
    return out.sort(compareLocations);
  }

  /** Every link of the bridge, or of one network, with its data (for rebuilding state and reverse lookups). */
  async all(network?: string): Promise<RoomLink[]> {
    const entries = await this.redis.hgetall(this.byRemote);
    const found: Array<{ field: string; remote: RemoteLocation; roomId: string }> = [];
    for (const [field, roomId] of Object.entries(entries)) {
      const remote = parseLocationField(field);
      if (remote && (network === undefined || remote.network === network)) found.push({ field, remote, roomId });
    }
    // The data lives in each room's hash: one pipelined round trip for all of them.
    const pipeline = this.redis.pipeline();
    for (const f of found) pipeline.hget(this.roomKey(f.roomId), f.field);
    const replies = found.length > 0 ? ((await pipeline.exec()) ?? []) : [];
    const out = found.map((f, i): RoomLink => {
      const json = replies[i]?.[1];
      let data: unknown = {};
      try {
        data = typeof json === 'string' ? JSON.parse(json) : {};
      } catch {
        // Data written by something else than link(): the link itself still counts.
      }
      return { ...f.remote, roomId: f.roomId, data: isStringRecord(data) ? data : {} };
    });
    return out.sort(compareLocations);
  }
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string')
  );
}
