// The bridge's rooms live in the host's room links (role in the link data), not in an index of its own:
// a fresh IrcBridgeState over the same links knows every room, and rooms an older version kept in the
// plugin store move to the links once.
import { describe, expect, test } from '@jest/globals';
import { IrcBridgeState, linkOfRole, roleOfLink, type RoomRole } from '../IrcBridgeState.js';
import { createFakeContext } from 'patchbay-matrix/plugin/testing';
import { ircDescriptor } from '../IrcBridge.js';

describe('IrcBridgeState over RoomLinks', () => {
  const roles: Array<[string, RoomRole]> = [
    ['!chan:hs', { kind: 'channel', network: 'libera', channel: '#matrix' }],
    ['!keyed:hs', { kind: 'channel', network: 'libera', channel: '#secret', key: 'hunter2' }],
    ['!pm:hs', { kind: 'pm', network: 'oftc', userId: '@alice:hs', ghost: 'oftc_bob' }],
    ['!admin:hs', { kind: 'admin', userId: '@alice:hs' }],
  ];

  test('every role survives the round trip through a link', () => {
    for (const [roomId, role] of roles) {
      const { remote, data } = linkOfRole(role);
      expect(roleOfLink({ ...remote, roomId, data })).toEqual(role);
    }
    // Links without the bridge's data: a channel-looking location is a channel, anything else is not ours.
    expect(roleOfLink({ network: 'libera', location: '#old', roomId: '!x:hs', data: {} })).toEqual({ kind: 'channel', network: 'libera', channel: '#old' });
    expect(roleOfLink({ network: 'libera', location: 'something', roomId: '!x:hs', data: {} })).toBeNull();
    expect(roleOfLink({ network: 'libera', location: 'pm/broken', roomId: '!x:hs', data: { kind: 'pm' } })).toBeNull();
  });

  test('a restarted state knows every room from the links alone; relinking a channel moves it', async () => {
    const { ctx, store } = createFakeContext(ircDescriptor, {});
    const first = new IrcBridgeState(ctx.store, ctx.links);
    await first.load();
    for (const [roomId, role] of roles) await first.setRoom(roomId, role);
    expect([...store.data.keys()].filter((k) => k.startsWith('room/'))).toEqual([]);

    const second = new IrcBridgeState(ctx.store, ctx.links);
    await second.load();
    for (const [roomId, role] of roles) expect(second.roleOf(roomId)).toEqual(role);
    expect(second.roomForChannel('libera', '#matrix')).toBe('!chan:hs');
    expect(second.pmRoom('oftc', '@alice:hs', 'oftc_bob')).toBe('!pm:hs');
    expect(second.adminRoom('@alice:hs')).toBe('!admin:hs');

    await second.setRoom('!chan2:hs', { kind: 'channel', network: 'libera', channel: '#matrix' });
    expect(second.roleOf('!chan:hs')).toBeUndefined();
    await second.forgetRoom('!pm:hs');
    const third = new IrcBridgeState(ctx.store, ctx.links);
    await third.load();
    expect(third.roomForChannel('libera', '#matrix')).toBe('!chan2:hs');
    expect(third.roleOf('!chan:hs')).toBeUndefined();
    expect(third.roleOf('!pm:hs')).toBeUndefined();
    expect(await ctx.links.roomFor({ network: 'oftc', location: 'pm/@alice:hs/oftc_bob' })).toBeNull();
  });

  test('an upgraded room passes its role to the replacement; another state learns it from the moved link', async () => {
    const { ctx } = createFakeContext(ircDescriptor, {});
    const state = new IrcBridgeState(ctx.store, ctx.links);
    const other = new IrcBridgeState(ctx.store, ctx.links);
    await state.load();
    for (const [roomId, role] of roles) await state.setRoom(roomId, role);
    await other.load();
    await state.moveRoom('!chan:hs', '!chan-v11:hs');
    await state.moveRoom('!pm:hs', '!pm-v11:hs');
    expect(state.roleOf('!chan:hs')).toBeUndefined();
    expect(state.roomForChannel('libera', '#matrix')).toBe('!chan-v11:hs');
    expect(state.pmRoom('oftc', '@alice:hs', 'oftc_bob')).toBe('!pm-v11:hs');
    expect(await ctx.links.roomFor({ network: 'libera', location: '#matrix' })).toBe('!chan-v11:hs');
    // Moving again (a retried event) changes nothing.
    await state.moveRoom('!chan:hs', '!chan-v11:hs');
    expect(state.roomForChannel('libera', '#matrix')).toBe('!chan-v11:hs');
    // A state that did not see the move (another worker) adopts the link on the new room's first event.
    expect(other.roleOf('!chan-v11:hs')).toBeUndefined();
    expect(await other.roleFromLinks('!chan-v11:hs')).toEqual(roles[0]![1]);
    expect(other.roomForChannel('libera', '#matrix')).toBe('!chan-v11:hs');
    expect(other.roleOf('!chan:hs')).toBeUndefined();
    expect(await other.roleFromLinks('!unlinked:hs')).toBeUndefined();
  });

  test('rooms an earlier version kept in the plugin store move to the links, and a corrupt one is dropped', async () => {
    const { ctx, store } = createFakeContext(ircDescriptor, {});
    await ctx.store.set(`room/${encodeURIComponent('!legacy:hs')}`, JSON.stringify({ kind: 'channel', network: 'libera', channel: '#legacy' }));
    await ctx.store.set(`room/${encodeURIComponent('!bad:hs')}`, '{not json');
    const state = new IrcBridgeState(ctx.store, ctx.links);
    await state.load();
    expect(state.roomForChannel('libera', '#legacy')).toBe('!legacy:hs');
    expect(await ctx.links.roomFor({ network: 'libera', location: '#legacy' })).toBe('!legacy:hs');
    expect([...store.data.keys()].filter((k) => k.startsWith('room/'))).toEqual([]);
    expect(state.roleOf('!bad:hs')).toBeUndefined();
  });
});
