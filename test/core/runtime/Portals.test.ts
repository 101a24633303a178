// Portals as a framework service, against the embedded homeserver and one Redis: made exactly once
// however many PluginHosts race for a place, with the settings the plugin asks for; a bridge's own alias
// lookups never re-enter its onAliasQuery.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { PluginHost } from '../../../core/plugin/PluginHost.js';
import type { AliasQueryHandler, BridgeContext, BridgePlugin, PortalKey } from '../../../core/plugin-api/index.js';
import { enc, registerUser, startBridgeStack, type BridgeStack, type TestUser } from '../../harness/index.js';
import { loadedPlugin } from './RecordingPlugin.js';

interface StateEvent {
  type: string;
  state_key: string;
  content: Record<string, unknown>;
}

/** A bridge whose alias queries make a portal, after resolving the alias itself (what deadlocked). */
class PortalPlugin implements BridgePlugin, AliasQueryHandler {
  readonly descriptor = { protocol: 'place', ghostPrefix: 'place_', aliasPrefix: 'place_' };
  ctx: BridgeContext | null = null;
  readonly aliasQueries: string[] = [];

  async start(ctx: BridgeContext): Promise<void> {
    this.ctx = ctx;
  }
  async stop(): Promise<void> {}
  async onMatrixEvent(): Promise<void> {}

  async onAliasQuery(alias: string): Promise<boolean> {
    this.aliasQueries.push(alias);
    const ctx = this.ctx!;
    if ((await ctx.bot.resolveAlias(alias)) !== null) return true;
    const name = alias.slice('#place_'.length, alias.indexOf(':'));
    await ctx.portals.ensure({ network: 'net', location: name }, { alias: name, name: `net/${name}` });
    return true;
  }
}

describe('portals (embedded homeserver, Redis, two plugin hosts)', () => {
  const plugin = new PortalPlugin();
  const rival = new PortalPlugin();
  let stack: BridgeStack;
  let second: PluginHost;
  let alice: TestUser;
  let bob: TestUser;

  const asBot = () => stack.hs.http.as(stack.asToken);
  const state = async (roomId: string): Promise<StateEvent[]> =>
    (await asBot().ok<StateEvent[]>('GET', `/rooms/${enc(roomId)}/state`, { query: { user_id: plugin.ctx!.bot.userId } }));
  const botRoomsNamed = async (name: string): Promise<string[]> => {
    const rooms = (await asBot().ok<{ joined_rooms: string[] }>('GET', '/joined_rooms', { query: { user_id: plugin.ctx!.bot.userId } })).joined_rooms;
    const named: string[] = [];
    for (const room of rooms) if ((await state(room)).some((e) => e.type === 'm.room.name' && e.content.name === name)) named.push(room);
    return named;
  };

  beforeAll(async () => {
    stack = await startBridgeStack({ appserviceId: 'portals', bridges: async () => [loadedPlugin('place', plugin)] });
    second = new PluginHost({
      plugins: [loadedPlugin('place', rival)],
      appserviceId: 'portals',
      homeserverUrl: stack.hs.url,
      asToken: stack.asToken,
      serverName: stack.hs.serverName,
      senderLocalpart: 'patchbay',
      redis: stack.redis.connection,
      logger: pino({ level: 'silent' }),
      metrics: new Registry(),
      outboxWorker: false,
    });
    await second.start();
    alice = await registerUser(stack.hs.url, 'alice');
    bob = await registerUser(stack.hs.url, 'bob');
  });

  afterAll(async () => {
    await second?.stop();
    await stack?.stop();
  });

  it('makes one room per place however many workers ask at once', async () => {
    const keys: PortalKey[] = ['a', 'b', 'c'].map((location) => ({ network: 'race', location }));
    const asks = keys.flatMap((key) => [plugin, rival, plugin, rival].map((p) => p.ctx!.portals.ensure(key, { name: `race ${key.location}` })));
    const portals = await Promise.all(asks);
    for (const key of keys) {
      const rooms = new Set(portals.filter((p) => p.key.location === key.location).map((p) => p.roomId));
      expect(rooms.size).toBe(1);
      expect(portals.filter((p) => p.key.location === key.location && p.created)).toHaveLength(1);
      expect(await botRoomsNamed(`race ${key.location}`)).toEqual([...rooms]);
      expect(await plugin.ctx!.links.roomFor(key)).toBe([...rooms][0]);
    }
  });

  it('makes a conversation portal as asked: a ghost as its maker, the receiver invited as a DM, power levels, name, topic, avatar', async () => {
    const key = { network: 'sms', location: '+14155550100', receiver: alice.userId };
    const portal = await plugin.ctx!.portals.ensure(key, {
      creator: { remoteId: '+14155550100', profile: { displayName: '+1 415 555 0100' } },
      name: 'SMS with +1 415 555 0100',
      topic: 'Texts through the carrier',
      avatarUrl: 'mxc://localhost/avatar',
      powerLevels: { users: { [alice.userId]: 50 }, events: { 'm.room.topic': 100 } },
      data: { carrier: 'acme' },
    });
    expect(portal.created).toBe(true);
    const events = await state(portal.roomId);
    const of = (type: string, key = '') => events.find((e) => e.type === type && e.state_key === key)?.content;
    const ghost = '@place_=2b14155550100:localhost';
    expect(of('m.room.create')).toBeDefined();
    expect(of('m.room.join_rules')).toEqual({ join_rule: 'invite' });
    expect(of('m.room.name')).toEqual({ name: 'SMS with +1 415 555 0100' });
    expect(of('m.room.topic')).toMatchObject({ topic: 'Texts through the carrier' });
    expect(of('m.room.avatar')).toEqual({ url: 'mxc://localhost/avatar' });
    expect(of('m.room.power_levels')).toMatchObject({ users: { [ghost]: 100, [plugin.ctx!.bot.userId]: 100, [alice.userId]: 50 }, events: { 'm.room.topic': 100 } });
    // Asking for one event's level keeps the usual ones (an override replaces the whole map at the homeserver).
    expect(of('m.room.power_levels')).toMatchObject({ events: { 'm.room.power_levels': 100, 'm.room.encryption': 100, 'm.room.name': 50 } });
    // MSC2346 bridge info, saying the bridge carries no encrypted messages.
    const bridgeInfo = {
      bridgebot: plugin.ctx!.bot.userId,
      creator: ghost,
      protocol: { id: 'place', displayname: 'place' },
      network: { id: key.network },
      channel: { id: key.location },
      'io.patchbay.encryption': 'unsupported',
    };
    const infoKey = `patchbay://place/${encodeURIComponent(key.network)}/${encodeURIComponent(key.location)}`;
    expect(of('m.bridge', infoKey)).toEqual(bridgeInfo);
    expect(of('uk.half-shot.bridge', infoKey)).toEqual(bridgeInfo);
    expect(of('m.room.member', ghost)).toMatchObject({ membership: 'join', displayname: '+1 415 555 0100' });
    expect(of('m.room.member', plugin.ctx!.bot.userId)).toMatchObject({ membership: 'join' });
    expect(of('m.room.member', alice.userId)).toMatchObject({ membership: 'invite', is_direct: true });
    expect(await plugin.ctx!.links.remotesFor(portal.roomId)).toEqual([{ ...key, data: { carrier: 'acme' } }]);
    // The same number with another user is another place, and another room.
    const bobs = await plugin.ctx!.portals.ensure({ ...key, receiver: bob.userId }, { creator: { remoteId: '+14155550100' } });
    expect(bobs.roomId).not.toBe(portal.roomId);
    expect((await plugin.ctx!.portals.ensure(key)).roomId).toBe(portal.roomId);
  });

  it('joins the spec\'s ghosts to a shared portal, and updates only what changed', async () => {
    const key = { network: 'irc', location: '#chat' };
    const portal = await plugin.ctx!.portals.ensure(key, { name: '#chat', ghosts: [{ remoteId: 'carol', profile: { displayName: 'Carol' } }] });
    expect((await state(portal.roomId)).find((e) => e.type === 'm.room.join_rules')?.content).toEqual({ join_rule: 'public' });
    expect((await state(portal.roomId)).find((e) => e.type === 'm.room.member' && e.state_key === '@place_carol:localhost')?.content).toMatchObject({ membership: 'join' });
    await plugin.ctx!.portals.update(key, { name: '#chat', topic: 'new topic' });
    const names = (await state(portal.roomId)).filter((e) => e.type === 'm.room.name');
    expect(names).toHaveLength(1);
    expect((await state(portal.roomId)).find((e) => e.type === 'm.room.topic')?.content).toMatchObject({ topic: 'new topic' });
  });

  it('adopts the room holding the alias when a maker died before linking it', async () => {
    const orphan = await plugin.ctx!.bot.createRoom({ preset: 'public_chat', room_alias_name: 'place_orphan', name: 'orphan' });
    const portal = await plugin.ctx!.portals.ensure({ network: 'net', location: 'orphan' }, { alias: 'orphan', name: 'orphan' });
    expect(portal.roomId).toBe(orphan);
    expect(await botRoomsNamed('orphan')).toEqual([orphan]);
  });

  it("never re-enters the bridge's own alias query when it resolves its own alias", async () => {
    const alias = '#place_lobby:localhost';
    const joined = await alice.http.ok<{ room_id: string }>('POST', `/join/${enc(alias)}`, { body: {} });
    expect(await plugin.ctx!.portals.roomFor({ network: 'net', location: 'lobby' })).toBe(joined.room_id);
    expect([...plugin.aliasQueries, ...rival.aliasQueries].filter((a) => a === alias)).toHaveLength(1);
    // And a lookup of an alias that does not exist is a plain "no", not a portal made on the side.
    expect(await plugin.ctx!.bot.resolveAlias('#place_nowhere:localhost')).toBeNull();
    expect([...plugin.aliasQueries, ...rival.aliasQueries]).not.toContain('#place_nowhere:localhost');
    expect(await plugin.ctx!.portals.roomFor({ network: 'net', location: 'nowhere' })).toBeNull();
  });
});
