import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisIdentityMap } from '../../../core/identity/RedisIdentityMap.js';
import { RedisMessageMap } from '../../../core/links/RedisMessageMap.js';
import { RedisRoomLinks } from '../../../core/links/RedisRoomLinks.js';
import { ManagedRedis } from '../../../core/redis/ManagedRedis.js';
import { RuntimeKeys } from '../../../core/store/BridgeKeyspace.js';
import { RedisPluginStore } from '../../../core/store/RedisPluginStore.js';

describe('runtime stores in Redis', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-stores-'));
  const server = new ManagedRedis({ dir, appendOnly: false });
  let redis: Redis;
  const keys = new RuntimeKeys('stores-test');

  beforeAll(async () => {
    await server.start();
    redis = new Redis(server.connection);
  });
  afterAll(async () => {
    await redis.quit();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('IdentityMap', () => {
    it('maps both ways and keeps the sides inverse when an id is re-pointed', async () => {
      const ids = new RedisIdentityMap(redis, keys.bridge('sip'));
      await ids.set('sip', '+14155550100', '@alice:hs');
      expect(await ids.userIdFor('sip', '+14155550100')).toBe('@alice:hs');
      expect(await ids.thirdPartyIdFor('sip', '@alice:hs')).toBe('+14155550100');
      // The number moves to bob: alice no longer has it.
      await ids.set('sip', '+14155550100', '@bob:hs');
      expect(await ids.thirdPartyIdFor('sip', '@alice:hs')).toBeNull();
      expect(await ids.thirdPartyIdFor('sip', '@bob:hs')).toBe('+14155550100');
      // Bob takes another number: the first one no longer points at him.
      await ids.set('sip', '+442071838750', '@bob:hs');
      expect(await ids.userIdFor('sip', '+14155550100')).toBeNull();
      await ids.remove('sip', '+442071838750');
      expect(await ids.thirdPartyIdFor('sip', '@bob:hs')).toBeNull();
    });

    it('is reversible over many ids, unicode and separators included, and separate per protocol and bridge', async () => {
      const email = new RedisIdentityMap(redis, keys.bridge('email'));
      const other = new RedisIdentityMap(redis, keys.bridge('other'));
      const pairs: Array<[string, string]> = [];
      for (let i = 0; i < 300; i++) pairs.push([`Ünï=${i}:x@例え.jp`, `@email_u${i}=3d:hs`]);
      for (const [tp, mx] of pairs) await email.set('email', tp, mx);
      for (const [tp, mx] of pairs) {
        expect(await email.userIdFor('email', tp)).toBe(mx);
        expect(await email.thirdPartyIdFor('email', mx)).toBe(tp);
        expect(await email.userIdFor('sip', tp)).toBeNull();
        expect(await other.userIdFor('email', tp)).toBeNull();
      }
    });
  });

  describe('RoomLinks', () => {
    it('links a remote to one room, a room to many remotes, and moves a relinked remote', async () => {
      const links = new RedisRoomLinks(redis, keys.bridge('irc'));
      await links.link('!a:hs', { network: 'libera', location: '#x' }, { topic: 'yes' });
      await links.link('!a:hs', { network: 'oftc', location: '#y' });
      expect(await links.roomFor({ network: 'libera', location: '#x' })).toBe('!a:hs');
      expect(await links.remotesFor('!a:hs')).toEqual([
        { network: 'libera', location: '#x', data: { topic: 'yes' } },
        { network: 'oftc', location: '#y', data: {} },
      ]);
      await links.link('!b:hs', { network: 'libera', location: '#x' });
      expect(await links.roomFor({ network: 'libera', location: '#x' })).toBe('!b:hs');
      expect((await links.remotesFor('!a:hs')).map((r) => r.location)).toEqual(['#y']);
      await links.unlink('!b:hs', { network: 'libera', location: '#x' });
      expect(await links.roomFor({ network: 'libera', location: '#x' })).toBeNull();
      expect(await links.remotesFor('!b:hs')).toEqual([]);
      expect((await links.all()).map((l) => l.roomId)).toEqual(['!a:hs']);
    });

    it('does not confuse network and location containing separators', async () => {
      const links = new RedisRoomLinks(redis, keys.bridge('sep'));
      await links.link('!1:hs', { network: 'a:b', location: 'c' });
      await links.link('!2:hs', { network: 'a', location: 'b:c' });
      expect(await links.roomFor({ network: 'a:b', location: 'c' })).toBe('!1:hs');
      expect(await links.roomFor({ network: 'a', location: 'b:c' })).toBe('!2:hs');
    });

    it("keeps one number's conversations with two users apart (the receiver is part of the place)", async () => {
      const links = new RedisRoomLinks(redis, keys.bridge('sms'));
      const alice = { network: 'sip', location: '+14155550100', receiver: '@alice:hs' };
      const bob = { ...alice, receiver: '@bob:hs' };
      await links.link('!a:hs', alice);
      await links.link('!b:hs', bob);
      await links.link('!shared:hs', { network: 'sip', location: '+14155550100' });
      expect(await links.roomFor(alice)).toBe('!a:hs');
      expect(await links.roomFor(bob)).toBe('!b:hs');
      expect(await links.remotesFor('!b:hs')).toEqual([{ ...bob, data: {} }]);
      expect((await links.all('sip')).map((l) => [l.roomId, l.receiver])).toEqual([['!shared:hs', undefined], ['!a:hs', '@alice:hs'], ['!b:hs', '@bob:hs']]);
      const messages = new RedisMessageMap(redis, keys.bridge('sms'));
      await messages.set({ ...alice, messageId: 'm1' }, '!a:hs', '$1');
      await messages.set({ ...bob, messageId: 'm1' }, '!b:hs', '$2');
      expect(await messages.eventFor({ ...alice, messageId: 'm1' })).toEqual({ roomId: '!a:hs', eventId: '$1' });
      expect(await messages.remoteFor('$2')).toEqual({ ...bob, messageId: 'm1' });
    });
  });

  describe('MessageMap', () => {
    it('maps remote message ids to events and back, with an expiry', async () => {
      const messages = new RedisMessageMap(redis, keys.bridge('irc'), 3600);
      const remote = { network: 'libera', location: '#x', messageId: 'm1' };
      await messages.set(remote, '!a:hs', '$e1');
      expect(await messages.eventFor(remote)).toEqual({ roomId: '!a:hs', eventId: '$e1' });
      expect(await messages.remoteFor('$e1')).toEqual(remote);
      expect(await messages.eventFor({ ...remote, messageId: 'm2' })).toBeNull();
      const ttl = await redis.ttl(`${keys.bridge('irc').root}:msg:e:$e1`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(3600);
    });
  });

  describe('PluginStore', () => {
    it('gets, sets, deletes, lists keys by a literal prefix, and sets-if-absent once', async () => {
      const store = new RedisPluginStore(redis, keys.bridge('kv'));
      await store.set('user:alice', '1');
      await store.set('user:a*b', '2');
      await store.set('room:x', '3');
      expect(await store.get('user:alice')).toBe('1');
      expect(await store.keys('user:')).toEqual(['user:a*b', 'user:alice']);
      expect(await store.keys('user:a*')).toEqual(['user:a*b']);
      await store.delete('user:alice');
      expect(await store.get('user:alice')).toBeNull();
      expect(await store.setIfAbsent('seen:$1', 'x', 60)).toBe(true);
      expect(await store.setIfAbsent('seen:$1', 'y', 60)).toBe(false);
      expect(await store.get('seen:$1')).toBe('x');
      await expect(store.set('k', 'v', 0)).rejects.toThrow(RangeError);
    });

    it('appends to lists, and appendOnce records an id once however often it is called', async () => {
      const store = new RedisPluginStore(redis, keys.bridge('lists'));
      await store.append('log', 'a');
      expect(await store.appendOnce('log', '$e1', 'b')).toBe(true);
      expect(await store.appendOnce('log', '$e1', 'b-again')).toBe(false);
      expect(await store.appendOnce('log', '$e2', 'c')).toBe(true);
      expect(await store.readList('log')).toEqual(['a', 'b', 'c']);
      expect(await store.readList('log', -1)).toEqual(['c']);
      // Lists are apart from the keys.
      expect(await store.keys('')).toEqual([]);
    });
  });
});
