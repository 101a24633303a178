// Plugin API members added for bridges that keep no index or cache of their own: RoomLinks.all(),
// Intent.getEvent(), ctx.notice() posting from a member ghost where the bot is not in the room, and
// ctx.dataDir.
// Real embedded homeserver over HTTP, real Redis; no event pipeline (nothing here needs transactions).
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import type { BridgeContext } from '../../../core/plugin-api/index.js';
import { enc, registerUser, startBridgeStack, type BridgeStack, type TestUser } from '../../harness/index.js';
import { loadedPlugin, RecordingPlugin } from './RecordingPlugin.js';

interface TimelineEvent {
  event_id: string;
  type: string;
  sender: string;
  content: Record<string, unknown>;
}

describe('plugin API: RoomLinks.all, Intent.getEvent, ctx.notice from a member (embedded homeserver, Redis)', () => {
  const plugin = new RecordingPlugin({ protocol: 'gamma', ghostPrefix: 'gamma_', aliasPrefix: 'gamma_' });
  let stack: BridgeStack;
  let alice: TestUser;
  let ctx: BridgeContext;

  const timeline = async (roomId: string): Promise<TimelineEvent[]> =>
    (await alice.http.ok<{ chunk: TimelineEvent[] }>('GET', `/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 100 } })).chunk.reverse();

  beforeAll(async () => {
    stack = await startBridgeStack({
      appserviceId: 'api-additions',
      bridges: async () => [loadedPlugin('gamma', plugin)],
      // No URL: the homeserver sends this appservice nothing; the test drives the intents directly.
      pipeline: false,
      logger: pino({ level: 'silent' }),
      // The host's default outbox settings (outbox: {}); this host drains no outbox anyway.
      host: { outbox: {}, outboxWorker: false, matrixRetry: { maxRetries: 1, initialBackoffMs: 5, maxBackoffMs: 10 } },
    });
    ctx = plugin.ctx as BridgeContext;
    alice = await registerUser(stack.hs.url, 'alice');
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('RoomLinks.all lists every link with its data, or those of one network, and follows relinks and unlinks', async () => {
    expect(await ctx.links.all()).toEqual([]);
    await ctx.links.link('!b:localhost', { network: 'oftc', location: '#y' }, { kind: 'channel', key: 'sekrit' });
    await ctx.links.link('!a:localhost', { network: 'libera', location: '#x' }, { kind: 'channel' });
    await ctx.links.link('!a:localhost', { network: 'libera', location: 'pm/@u:hs/libera_bob' });
    expect(await ctx.links.all()).toEqual([
      { network: 'libera', location: '#x', roomId: '!a:localhost', data: { kind: 'channel' } },
      { network: 'libera', location: 'pm/@u:hs/libera_bob', roomId: '!a:localhost', data: {} },
      { network: 'oftc', location: '#y', roomId: '!b:localhost', data: { kind: 'channel', key: 'sekrit' } },
    ]);
    expect((await ctx.links.all('oftc')).map((l) => l.roomId)).toEqual(['!b:localhost']);
    expect(await ctx.links.all('nowhere')).toEqual([]);
    // Relinking moves the remote with its new data; unlinking removes it from the listing.
    await ctx.links.link('!c:localhost', { network: 'libera', location: '#x' }, { kind: 'channel', key: 'k2' });
    await ctx.links.unlink('!b:localhost', { network: 'oftc', location: '#y' });
    expect(await ctx.links.all()).toEqual([
      { network: 'libera', location: '#x', roomId: '!c:localhost', data: { kind: 'channel', key: 'k2' } },
      { network: 'libera', location: 'pm/@u:hs/libera_bob', roomId: '!a:localhost', data: {} },
    ]);
  });

  it('Intent.getEvent returns a room event as the homeserver has it, and null for an unknown event', async () => {
    const room = await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat' } });
    const sent = await alice.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(room.room_id)}/send/m.room.message/g1`, {
      body: { msgtype: 'm.text', body: 'remember me', format: 'org.matrix.custom.html', formatted_body: '<b>remember</b> me' },
    });
    await ctx.bot.join(room.room_id);
    const event = await ctx.bot.getEvent(room.room_id, sent.event_id);
    expect(event).toMatchObject({
      event_id: sent.event_id,
      room_id: room.room_id,
      sender: alice.userId,
      type: 'm.room.message',
      content: { msgtype: 'm.text', body: 'remember me', formatted_body: '<b>remember</b> me' },
    });
    expect(typeof event?.origin_server_ts).toBe('number');
    expect(await ctx.bot.getEvent(room.room_id, '$nosuchevent:localhost')).toBeNull();
    // A redaction carries what it redacts.
    const redaction = await alice.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(room.room_id)}/redact/${enc(sent.event_id)}/r1`, { body: { reason: 'oops' } });
    const got = await ctx.bot.getEvent(room.room_id, redaction.event_id);
    expect(got?.type).toBe('m.room.redaction');
    expect(got?.redacts ?? got?.content.redacts).toBe(sent.event_id);
  });

  it('ctx.notice: from the bot where it is joined, else from a member ghost, else it rejects', async () => {
    // The bot is in the room: it posts.
    const open = await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat' } });
    await ctx.bot.join(open.room_id);
    await ctx.notice(open.room_id, 'from the bot');
    expect((await timeline(open.room_id)).find((e) => e.content.body === 'from the bot')?.sender).toBe('@patchbay:localhost');

    // A DM only the bridge's ghost was invited to: the ghost posts, and the bot does not barge in.
    // (The homeserver asks no appservice about the ghost here: url is null. Register it first.)
    const ghost = await ctx.ghosts.intent('bob');
    const dm = await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'trusted_private_chat', is_direct: true, invite: ['@gamma_bob:localhost'] } });
    await ghost.join(dm.room_id);
    await ctx.notice(dm.room_id, 'from a member');
    const events = await timeline(dm.room_id);
    expect(events.find((e) => e.content.body === 'from a member')).toMatchObject({ sender: '@gamma_bob:localhost', content: { msgtype: 'm.notice' } });
    expect(events.some((e) => e.type === 'm.room.member' && e.sender === '@patchbay:localhost')).toBe(false);

    // The ghost left: it is not made to rejoin just to talk, and the bot cannot enter a private room.
    await ghost.leave(dm.room_id);
    await expect(ctx.notice(dm.room_id, 'nobody can say this')).rejects.toThrow();
    const after = await timeline(dm.room_id);
    expect(after.some((e) => e.content.body === 'nobody can say this')).toBe(false);
    expect(after.filter((e) => e.type === 'm.room.member' && e.sender === '@gamma_bob:localhost').map((e) => e.content.membership)).toEqual(['join', 'leave']);
  });

  it('ctx.dataDir is the bridge\'s own folder under data_dir, made before start, kept across a restart', async () => {
    expect(ctx.dataDir).toBe(join(stack.dir, 'bridges', 'gamma'));
    expect(statSync(ctx.dataDir).isDirectory()).toBe(true);
    writeFileSync(join(ctx.dataDir, 'spooled'), 'kept');
    await stack.restartHost();
    const again = plugin.ctx as BridgeContext;
    expect(again.dataDir).toBe(ctx.dataDir);
    expect(readFileSync(join(again.dataDir, 'spooled'), 'utf8')).toBe('kept');
  });
});
