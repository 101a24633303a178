import type { Redis } from 'ioredis';
import type { MessageMap, RemoteLocation } from '../plugin-api/index.js';
import type { BridgeKeyspace } from '../store/BridgeKeyspace.js';
import { locationField, locationOf } from './RemoteLocationField.js';

type RemoteMessage = RemoteLocation & { messageId: string };

/** How long a message pairing is kept by default: long enough for edits, replies and redactions. */
export const DEFAULT_MESSAGE_TTL_SECONDS = 90 * 24 * 3600;

/**
 * Remote message ids <-> Matrix event ids of one bridge. One key per direction and message (not one
 * big hash) so each pairing expires on its own and the map cannot grow without bound.
 */
export class RedisMessageMap implements MessageMap {
  private readonly byRemote: string;
  private readonly byEvent: string;

  constructor(
    private readonly redis: Redis,
    keyspace: BridgeKeyspace,
    private readonly ttlSeconds = DEFAULT_MESSAGE_TTL_SECONDS,
  ) {
    this.byRemote = keyspace.key('msg', 'r', '');
    this.byEvent = keyspace.key('msg', 'e', '');
  }

  private remoteKey(remote: RemoteMessage): string {
    return this.byRemote + locationField(remote, remote.messageId);
  }

  async set(remote: RemoteMessage, roomId: string, eventId: string): Promise<void> {
    const pair = { ...locationOf(remote), messageId: remote.messageId };
    await this.redis
      .multi()
      .set(this.remoteKey(remote), JSON.stringify({ roomId, eventId }), 'EX', this.ttlSeconds)
      .set(this.byEvent + eventId, JSON.stringify(pair), 'EX', this.ttlSeconds)
      .exec();
  }

  async eventFor(remote: RemoteMessage): Promise<{ roomId: string; eventId: string } | null> {
    const json = await this.redis.get(this.remoteKey(remote));
    if (json === null) return null;
    const value = JSON.parse(json) as { roomId?: unknown; eventId?: unknown };
    return typeof value.roomId === 'string' && typeof value.eventId === 'string'
      ? { roomId: value.roomId, eventId: value.eventId }
      : null;
  }

  async remoteFor(eventId: string): Promise<RemoteMessage | null> {
    const json = await this.redis.get(this.byEvent + eventId);
    if (json === null) return null;
    const value = JSON.parse(json) as Partial<Record<keyof RemoteMessage, unknown>>;
    if (typeof value.network !== 'string' || typeof value.location !== 'string' || typeof value.messageId !== 'string') return null;
    const location = typeof value.receiver === 'string' ? { network: value.network, location: value.location, receiver: value.receiver } : { network: value.network, location: value.location };
    return { ...location, messageId: value.messageId };
  }
}
