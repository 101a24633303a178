import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { PluginHost } from '../../../core/plugin/PluginHost.js';
import { ManagedRedis } from '../../../core/redis/ManagedRedis.js';
import { FakeHomeserver } from './FakeHomeserver.js';
import { CapablePlugin, event, loadedPlugin, LookupPlugin, RecordingPlugin } from './RecordingPlugin.js';

const BOT = '@patchbay:hs';
const ALICE = '@alice:hs';

describe('PluginHost routing, queries and dead letters (fake homeserver, real Redis)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-host-'));
  const redis = new ManagedRedis({ dir, appendOnly: false });
  const hs = new FakeHomeserver('hs', 'as-token', BOT);
  const alpha = new CapablePlugin({ protocol: 'alpha', ghostPrefix: 'alpha_', aliasPrefix: 'alpha_' });
  const beta = new RecordingPlugin({ protocol: 'beta', ghostPrefix: 'beta_', aliasPrefix: 'beta_' });
  const phone = new LookupPlugin({ protocol: 'phone', ghostPrefix: 'phone_', aliasPrefix: 'phone_', thirdPartyProtocols: ['m.protocol.pstn'] });
  let host: PluginHost;

  beforeAll(async () => {
    await Promise.all([redis.start(), hs.start()]);
    host = new PluginHost({
      plugins: [loadedPlugin('alpha', alpha), loadedPlugin('beta', beta), loadedPlugin('phone', phone)],
      appserviceId: 'routing-test',
      homeserverUrl: hs.url,
      asToken: 'as-token',
      serverName: 'hs',
      senderLocalpart: 'patchbay',
      redis: redis.connection,
      logger: pino({ level: 'silent' }),
      metrics: new Registry(),
      outboxWorker: false,
      matrixRetry: { maxRetries: 1, initialBackoffMs: 5, maxBackoffMs: 10 },
    });
    await host.start();
  });
  afterAll(async () => {
    await host.stop();
    await Promise.all([redis.stop(), hs.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts every plugin with its context', () => {
    expect(alpha.ctx?.serverName).toBe('hs');
    expect(alpha.ctx?.bot.userId).toBe(BOT);
    expect(alpha.ctx?.ghosts.userIdFor('x')).toBe('@alpha_x:hs');
    expect(host.bridgeNames).toEqual(['alpha', 'beta', 'phone']);
  });

  it('routes nothing from a room no bridge is concerned with', async () => {
    const e = event({ room_id: '!nowhere:hs', sender: ALICE });
    await host.dispatch(e, 1);
    expect([...alpha.eventIds(), ...beta.eventIds()]).not.toContain(e.event_id);
  });

  it('routes an invite of a ghost to its bridge, and then that room to it', async () => {
    const invite = event({ room_id: '!r1:hs', sender: ALICE, type: 'm.room.member', state_key: '@alpha_bob:hs', content: { membership: 'invite' } });
    await host.dispatch(invite, 1);
    expect(alpha.eventIds()).toContain(invite.event_id);
    expect(beta.eventIds()).not.toContain(invite.event_id);
    const msg = event({ room_id: '!r1:hs', sender: ALICE });
    await host.dispatch(msg, 1);
    expect(alpha.eventIds()).toContain(msg.event_id);
    expect(beta.eventIds()).not.toContain(msg.event_id);
    // The ghost leaves: the room no longer concerns alpha.
    await host.dispatch(event({ room_id: '!r1:hs', sender: '@alpha_bob:hs', type: 'm.room.member', state_key: '@alpha_bob:hs', content: { membership: 'leave' } }), 1);
    const later = event({ room_id: '!r1:hs', sender: ALICE });
    await host.dispatch(later, 1);
    expect(alpha.eventIds()).not.toContain(later.event_id);
  });

  it('routes a linked room to the bridge that linked it, and flags echoes of its own ghosts', async () => {
    await beta.ctx!.links.link('!r2:hs', { network: 'net', location: '#chan' });
    const fromGhost = event({ room_id: '!r2:hs', sender: '@beta_carol:hs' });
    await host.dispatch(fromGhost, 1);
    expect(beta.deliveries.find((d) => d.eventId === fromGhost.event_id)?.fromBridge).toBe(true);
    const fromAlice = event({ room_id: '!r2:hs', sender: ALICE });
    await host.dispatch(fromAlice, 1);
    expect(beta.deliveries.find((d) => d.eventId === fromAlice.event_id)?.fromBridge).toBe(false);
    expect(alpha.eventIds()).not.toContain(fromAlice.event_id);
  });

  it('gives invites of the shared bot to every bridge', async () => {
    const invite = event({ room_id: '!r3:hs', sender: ALICE, type: 'm.room.member', state_key: BOT, content: { membership: 'invite' } });
    await host.dispatch(invite, 1);
    expect(alpha.eventIds()).toContain(invite.event_id);
    expect(beta.eventIds()).toContain(invite.event_id);
  });

  it('records rooms a bridge joins through its bot, so their events route at once', async () => {
    hs.addRoom('!r4:hs', [ALICE]);
    await beta.ctx!.bot.join('!r4:hs');
    const msg = event({ room_id: '!r4:hs', sender: ALICE, content: { msgtype: 'm.text', body: 'edit', 'm.relates_to': { rel_type: 'm.replace', event_id: '$orig' } } });
    await host.dispatch(msg, 1);
    expect(beta.deliveries.find((d) => d.eventId === msg.event_id)?.relation).toEqual({ replaces: '$orig' });
    expect(alpha.eventIds()).not.toContain(msg.event_id);
    // The bot is kicked: no bridge is concerned any more.
    await host.dispatch(event({ room_id: '!r4:hs', sender: ALICE, type: 'm.room.member', state_key: BOT, content: { membership: 'leave' } }), 1);
    const after = event({ room_id: '!r4:hs', sender: ALICE });
    await host.dispatch(after, 1);
    expect(beta.eventIds()).not.toContain(after.event_id);
  });

  it('hands m.call.* to a CallHandler with the legacy version normalised, and as events to others', async () => {
    await alpha.ctx!.links.link('!call:hs', { network: 'n', location: 'c' });
    await beta.ctx!.links.link('!call:hs', { network: 'n', location: 'c' });
    const v0 = event({ room_id: '!call:hs', sender: ALICE, type: 'm.call.invite', content: { call_id: 'c1', version: 0, lifetime: 60000, offer: { type: 'offer', sdp: 'v=0' } } });
    const v1 = event({ room_id: '!call:hs', sender: ALICE, type: 'm.call.hangup', content: { call_id: 'c1', version: '1', party_id: 'p1' } });
    await host.dispatch(v0, 1);
    await host.dispatch(v1, 1);
    const calls = alpha.deliveries.filter((d) => d.kind === 'call');
    expect(calls.map((c) => c.call)).toEqual([
      { kind: 'invite', callId: 'c1', version: 0, partyId: null, description: { type: 'offer', sdp: 'v=0' }, lifetimeMs: 60000 },
      { kind: 'hangup', callId: 'c1', version: '1', partyId: 'p1', reason: 'user_hangup' },
    ]);
    expect(beta.eventIds()).toEqual(expect.arrayContaining([v0.event_id, v1.event_id]));
  });

  it('fetches the bytes of a media message for an AttachmentHandler', async () => {
    hs.media.set('mxc://hs/pic', { bytes: Buffer.from('PNGDATA'), type: 'image/png' });
    const img = event({ room_id: '!call:hs', sender: ALICE, content: { msgtype: 'm.image', body: 'cat.png', url: 'mxc://hs/pic', info: { mimetype: 'image/png' } } });
    await host.dispatch(img, 1);
    expect(alpha.deliveries.find((d) => d.eventId === img.event_id)).toMatchObject({ kind: 'attachment', bytes: 'PNGDATA' });
    expect(beta.deliveries.find((d) => d.eventId === img.event_id)).toMatchObject({ kind: 'event' });
  });

  it('on a retry after one plugin failed, redelivers only to that plugin', async () => {
    const e = event({ room_id: '!call:hs', sender: ALICE });
    beta.failures.set(e.event_id, 1);
    await expect(host.dispatch(e, 1)).rejects.toThrow(/on purpose/);
    await host.dispatch(e, 2);
    expect(alpha.eventIds().filter((id) => id === e.event_id)).toHaveLength(1);
    expect(beta.deliveries.filter((d) => d.eventId === e.event_id).map((d) => d.attempt)).toEqual([2]);
  });

  it('passes typing in concerned rooms to EphemeralHandlers only', async () => {
    const before = alpha.deliveries.filter((d) => d.kind === 'ephemeral').length;
    await host.dispatchEphemeral({ type: 'm.typing', room_id: '!call:hs', content: { user_ids: [ALICE] } });
    await host.dispatchEphemeral({ type: 'm.typing', room_id: '!elsewhere:hs', content: { user_ids: [ALICE] } });
    expect(alpha.deliveries.filter((d) => d.kind === 'ephemeral').length - before).toBe(1);
  });

  it('posts a short notice from the bot when an event is dead-lettered, once, and none for its own echoes', async () => {
    hs.addRoom('!dead:hs', [ALICE, BOT]);
    await alpha.ctx!.links.link('!dead:hs', { network: 'n', location: 'd' });
    const e = event({ room_id: '!dead:hs', sender: ALICE });
    await host.deadLettered(e, new Error('the IRC network refused the message'));
    await host.deadLettered(e, new Error('the IRC network refused the message'));
    const notices = hs.sent.filter((s) => s.roomId === '!dead:hs');
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ sender: BOT, content: { msgtype: 'm.notice' } });
    expect(String(notices[0]?.content.body)).toBe(`⚠️ Could not bridge a message from ${ALICE} (${e.event_id}): the IRC network refused the message`);
    await host.deadLettered(event({ room_id: '!dead:hs', sender: BOT }), new Error('x'));
    expect(hs.sent.filter((s) => s.roomId === '!dead:hs')).toHaveLength(1);
  });

  it('posts a dead-letter notice from a ghost still in the room, and never makes a ghost that left rejoin to say it', async () => {
    const joinOf = (room: string, ghost: string) =>
      event({ room_id: room, sender: ghost, type: 'm.room.member', state_key: ghost, content: { membership: 'join' } });
    // The bridge saw both ghosts join; on the homeserver one of them has since left (a stale record).
    for (const ghost of ['@alpha_gone:hs', '@alpha_stays:hs']) hs.registered.add(ghost);
    hs.addRoom('!stale:hs', [ALICE]);
    hs.addRoom('!stays:hs', [ALICE, '@alpha_stays:hs']);
    await host.dispatch(joinOf('!stale:hs', '@alpha_gone:hs'), 1);
    await host.dispatch(joinOf('!stays:hs', '@alpha_stays:hs'), 1);

    await host.deadLettered(event({ room_id: '!stale:hs', sender: ALICE }), new Error('refused'));
    expect(hs.sent.filter((s) => s.roomId === '!stale:hs')).toHaveLength(0);
    expect(hs.members.get('!stale:hs')?.has('@alpha_gone:hs')).toBe(false);

    await host.deadLettered(event({ room_id: '!stays:hs', sender: ALICE }), new Error('refused'));
    const notices = hs.sent.filter((s) => s.roomId === '!stays:hs');
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ sender: '@alpha_stays:hs', content: { msgtype: 'm.notice' } });
  });

  it('answers user queries through the owning bridge (creating the ghost) and alias queries without a handler with false', async () => {
    expect(await host.userExists('@alpha_zed:hs')).toBe(true);
    expect(hs.registered.has('@alpha_zed:hs')).toBe(true);
    expect(hs.profiles.get('@alpha_zed:hs')).toEqual({ displayname: 'zed' });
    expect(await host.userExists('@beta_zed:hs')).toBe(false); // beta has no UserQueryHandler
    expect(await host.userExists('@other:hs')).toBe(false);
    expect(await host.aliasExists('#alpha_x:hs')).toBe(false);
  });

  it('serves third-party lookups from the identity map, ghost ids and links, both ways', async () => {
    expect(host.protocol('gamma')).toBeNull();
    expect(host.protocol('beta')?.user_fields).toEqual(['id']);
    await beta.ctx!.identities.set('beta', 'Carol@Example.org', '@carol:hs');
    expect(await host.users('beta', { id: 'Carol@Example.org' })).toEqual([{ userid: '@carol:hs', protocol: 'beta', fields: { id: 'Carol@Example.org' } }]);
    expect(await host.users('beta', { id: '+1555' })).toEqual([{ userid: '@beta_=2b1555:hs', protocol: 'beta', fields: { id: '+1555' } }]);
    expect(await host.users('gamma', { id: 'x' })).toBeNull();
    expect(await host.usersByMatrixId('@carol:hs')).toEqual([{ userid: '@carol:hs', protocol: 'beta', fields: { id: 'Carol@Example.org' } }]);
    expect(await host.usersByMatrixId('@beta_=2b1555:hs')).toEqual([{ userid: '@beta_=2b1555:hs', protocol: 'beta', fields: { id: '+1555' } }]);
    hs.aliases.set('#portal:hs', '!r2:hs');
    expect(await host.locationsByAlias('#portal:hs')).toEqual([{ alias: '#portal:hs', protocol: 'beta', fields: { network: 'net', location: '#chan' } }]);
    expect(await host.locationsByAlias('#unknown:hs')).toEqual([]);
  });

  it('answers a bridge\'s further third-party protocol ids through its handler, telling it which id was asked', async () => {
    expect(host.protocol('m.protocol.pstn')?.user_fields).toEqual(['m.protocol.pstn']);
    expect(host.protocol('phone')?.user_fields).toEqual(['phone']);
    expect(await host.users('m.protocol.pstn', { number: '+1555' })).toEqual([{ userid: '@phone_=2b1555:hs', protocol: 'm.protocol.pstn', fields: { number: '+1555' } }]);
    expect(await host.users('im.vector.protocol.pstn', { number: '+1555' })).toBeNull();
  });
});
