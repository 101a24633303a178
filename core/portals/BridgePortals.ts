import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { locationField } from '../links/RemoteLocationField.js';
import type { Portal, PortalKey, Portals, PortalSpec, RoomLinks } from '../plugin-api/index.js';
import type { BridgeKeyspace } from '../store/BridgeKeyspace.js';
import { RedisLock } from '../store/RedisLock.js';
import { checkPortalKey, type PortalRooms } from './PortalRooms.js';

export interface BridgePortalsDeps {
  redis: Redis;
  keyspace: BridgeKeyspace;
  links: RoomLinks;
  rooms: PortalRooms;
  logger: Logger;
  /** How long one maker may hold a place's lock (default 30 s): longer than making a room takes. */
  lockTtlMs?: number;
  /** How long a caller waits for another worker making the same portal (default 30 s). */
  waitMs?: number;
}

/**
 * One bridge's portals. A portal is the room linked to a remote place (RoomLinks), so finding one is one
 * Redis read. Making one is guarded by a per-place lock in Redis: of any number of workers asking at
 * once, one makes and links the room while the others wait and then read the link, and the maker checks
 * the link again once it holds the lock. Should a maker die between making the room and linking it, the
 * lock lapses and the next caller makes the portal again; with an alias, it finds the alias taken and
 * adopts that room instead of making a second.
 */
export class BridgePortals implements Portals {
  constructor(private readonly deps: BridgePortalsDeps) {}

  aliasFor(name: string): string {
    return this.deps.rooms.aliasFor(name);
  }

  roomFor(key: PortalKey): Promise<string | null> {
    checkPortalKey(key);
    return this.deps.links.roomFor(key);
  }

  async ensure(key: PortalKey, spec: PortalSpec | (() => PortalSpec | Promise<PortalSpec>) = {}): Promise<Portal> {
    checkPortalKey(key);
    const { links, redis, keyspace, rooms } = this.deps;
    const existing = await links.roomFor(key);
    if (existing !== null) return { key, roomId: existing, created: false };
    const waitMs = this.deps.waitMs ?? 30_000;
    const deadline = Date.now() + waitMs;
    const lockKey = keyspace.key('portal-lock', locationField(key));
    for (;;) {
      const lock = await RedisLock.tryAcquire(redis, lockKey, this.deps.lockTtlMs ?? 30_000);
      if (lock) {
        try {
          const made = await links.roomFor(key);
          if (made !== null) return { key, roomId: made, created: false };
          const settled = typeof spec === 'function' ? await spec() : spec;
          const roomId = await rooms.make(key, settled);
          await links.link(roomId, key, settled.data ?? {});
          this.deps.logger.info({ room_id: roomId, network: key.network, location: key.location, receiver: key.receiver }, 'portal made');
          return { key, roomId, created: true };
        } finally {
          await lock.release().catch(() => undefined);
        }
      }
      await sleep(25 + Math.random() * 50);
      const made = await links.roomFor(key);
      if (made !== null) return { key, roomId: made, created: false };
      if (Date.now() > deadline) {
        throw new Error(`the portal of ${locationField(key)} is being made by another worker for over ${waitMs} ms; try again later`);
      }
    }
  }

  async update(key: PortalKey, changes: Pick<PortalSpec, 'name' | 'topic' | 'avatarUrl'>): Promise<void> {
    const roomId = await this.roomFor(key);
    if (roomId === null) throw new Error(`${locationField(key)} has no portal to update; make it with ensure() first`);
    await this.deps.rooms.update(roomId, changes);
  }
}
