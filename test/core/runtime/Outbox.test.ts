import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { OutboxDeliveryError } from '../../../core/outbox/OutboxQueues.js';
import { PartitionCountChangedError } from '../../../core/partitioning/PartitionCount.js';
import { outboxTxnId } from '../../../core/outbox/OutboxJob.js';
import { OutboundMessageError } from '../../../core/outbox/BridgeOutbox.js';
import type { BridgeContext } from '../../../core/plugin-api/index.js';
import { PluginHost, type PluginHostOptions } from '../../../core/plugin/PluginHost.js';
import { ManagedRedis } from '../../../core/redis/ManagedRedis.js';
import { waitFor } from '../../harness/index.js';
import { FakeHomeserver } from './FakeHomeserver.js';
import { loadedPlugin, RecordingPlugin } from './RecordingPlugin.js';

const BOT = '@patchbay:hs';
/** Messages whose content these tests keep minimal (no msgtype): typed as any event type. */
const UNTYPED_MESSAGE: string = 'm.room.message';

describe('Outbox (fake homeserver, real Redis)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-outbox-'));
  const redis = new ManagedRedis({ dir, appendOnly: false });
  const hs = new FakeHomeserver('hs', 'as-token', BOT);
  const plugin = new RecordingPlugin({ protocol: 'net', ghostPrefix: 'net_', aliasPrefix: 'net_' });
  let host: PluginHost;
  let ctx: BridgeContext;
  const metrics = new Registry();
  /** A host of the `net` bridge on the fake homeserver and the suite's Redis. */
  const hostOf = (options: Pick<PluginHostOptions, 'plugins' | 'appserviceId' | 'metrics'> & Partial<PluginHostOptions>): PluginHost =>
    new PluginHost({
      homeserverUrl: hs.url,
      asToken: 'as-token',
      serverName: 'hs',
      senderLocalpart: 'patchbay',
      redis: redis.connection,
      logger: pino({ level: 'silent' }),
      ...options,
    });

  beforeAll(async () => {
    await Promise.all([redis.start(), hs.start()]);
    host = hostOf({
      plugins: [loadedPlugin('net', plugin)],
      appserviceId: 'outbox-test',
      metrics,
      host: { outbox_partitions: 3 },
      outbox: { attempts: 3, initialBackoffMs: 10, maxBackoffMs: 40, sendTimeoutMs: 20_000 },
      matrixRetry: { maxRetries: 1, initialBackoffMs: 5, maxBackoffMs: 10, maxRateLimitWaitMs: 5_000 },
    });
    await host.start();
    ctx = plugin.ctx!;
  });
  afterAll(async () => {
    await host.stop();
    await Promise.all([redis.stop(), hs.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends as the ghost (registered, profiled, joined on first use) with the remote timestamp, and maps the message', async () => {
    hs.addRoom('!o1:hs', [BOT]);
    const eventId = await ctx.outbox.send({
      remoteId: 'msg-1',
      roomId: '!o1:hs',
      senderRemoteId: 'alice',
      senderProfile: { displayName: 'Alice' },
      type: 'm.room.message',
      content: { msgtype: 'm.text', body: 'hello' },
      timestamp: 1_700_000_000_000,
      mapAs: { network: 'net', location: '#c', messageId: 'msg-1' },
    });
    const sent = hs.sent.find((s) => s.eventId === eventId);
    expect(sent).toMatchObject({ roomId: '!o1:hs', sender: '@net_alice:hs', ts: 1_700_000_000_000, txnId: outboxTxnId('net', '!o1:hs', 'msg-1') });
    expect(hs.profiles.get('@net_alice:hs')).toEqual({ displayname: 'Alice' });
    expect(await ctx.messages.eventFor({ network: 'net', location: '#c', messageId: 'msg-1' })).toEqual({ roomId: '!o1:hs', eventId });
  });

  it('posts a remote message once however often it is enqueued, before and after it was delivered', async () => {
    hs.addRoom('!o2:hs', [BOT]);
    const msg = { remoteId: 'dup-1', roomId: '!o2:hs', senderRemoteId: 'bob', type: 'm.room.message', content: { msgtype: 'm.text', body: 'once' } };
    await ctx.outbox.enqueue(msg);
    await ctx.outbox.enqueue(msg);
    const first = await ctx.outbox.send(msg);
    const again = await ctx.outbox.send(msg);
    expect(again).toBe(first);
    expect(hs.sent.filter((s) => s.roomId === '!o2:hs')).toHaveLength(1);
  });

  it('keeps each room in enqueue order', async () => {
    hs.addRoom('!o3:hs', [BOT]);
    hs.addRoom('!o4:hs', [BOT]);
    const sends: Array<Promise<string>> = [];
    for (let i = 0; i < 25; i++) {
      await ctx.outbox.enqueue({ remoteId: `ord-${i}`, roomId: '!o3:hs', senderRemoteId: i % 2 ? 'x' : 'y', type: UNTYPED_MESSAGE, content: { body: `a${i}` } });
      await ctx.outbox.enqueue({ remoteId: `ord-${i}`, roomId: '!o4:hs', senderRemoteId: null, type: UNTYPED_MESSAGE, content: { body: `b${i}` } });
    }
    sends.push(ctx.outbox.send({ remoteId: 'ord-last', roomId: '!o3:hs', senderRemoteId: null, type: UNTYPED_MESSAGE, content: { body: 'a-last' } }));
    sends.push(ctx.outbox.send({ remoteId: 'ord-last', roomId: '!o4:hs', senderRemoteId: null, type: UNTYPED_MESSAGE, content: { body: 'b-last' } }));
    await Promise.all(sends);
    const bodies = (room: string): string[] => hs.sent.filter((s) => s.roomId === room).map((s) => String(s.content.body));
    expect(bodies('!o3:hs')).toEqual([...Array.from({ length: 25 }, (_, i) => `a${i}`), 'a-last']);
    expect(bodies('!o4:hs')).toEqual([...Array.from({ length: 25 }, (_, i) => `b${i}`), 'b-last']);
  });

  it('waits out 429s (retry_after_ms) beyond the client retries and still posts once', async () => {
    hs.addRoom('!o5:hs', [BOT]);
    let limited = 4; // more than the client's own retry: the outbox's tries take over
    hs.interceptors.push((r) =>
      r.path.includes('/rooms/!o5:hs/send/') && limited-- > 0 ? { status: 429, body: { errcode: 'M_LIMIT_EXCEEDED', error: 'slow', retry_after_ms: 20 } } : undefined,
    );
    const eventId = await ctx.outbox.send({ remoteId: 'rl-1', roomId: '!o5:hs', senderRemoteId: null, type: UNTYPED_MESSAGE, content: { body: 'patient' } });
    expect(limited).toBeLessThan(0);
    expect(hs.sent.filter((s) => s.roomId === '!o5:hs').map((s) => s.eventId)).toEqual([eventId]);
  });

  it('dead-letters a message the homeserver refuses, tells the room once, and lets the room move on', async () => {
    hs.addRoom('!o6:hs', [BOT]);
    hs.interceptors.push((r) =>
      r.path.includes('/rooms/!o6:hs/send/m.bad') ? { status: 400, body: { errcode: 'M_BAD_JSON', error: 'content is not valid' } } : undefined,
    );
    const bad = ctx.outbox.send({ remoteId: 'bad-1', roomId: '!o6:hs', senderRemoteId: 'eve', type: 'm.bad', content: { body: 'x' } });
    await expect(bad).rejects.toThrow(OutboxDeliveryError);
    await expect(bad).rejects.toThrow(/content is not valid/);
    const next = await ctx.outbox.send({ remoteId: 'good-1', roomId: '!o6:hs', senderRemoteId: 'eve', type: UNTYPED_MESSAGE, content: { body: 'fine' } });
    const room = hs.sent.filter((s) => s.roomId === '!o6:hs');
    expect(room.map((s) => [s.sender, s.content.msgtype ?? s.content.body])).toEqual([
      [BOT, 'm.notice'],
      ['@net_eve:hs', 'fine'],
    ]);
    expect(String(room[0]?.content.body)).toMatch(/^⚠️ A net message \(bad-1\) could not be delivered to this room: content is not valid \(M_BAD_JSON\)$/);
    expect(room[1]?.eventId).toBe(next);
    const dead = await host.outbox.connection.lrange(host.keys.outboxDeadLetters, 0, -1);
    expect(dead.map((d) => (JSON.parse(d) as { job: { remoteId: string } }).job.remoteId)).toContain('bad-1');
    // Replaying the dead message is a no-op: its outcome is remembered.
    await expect(ctx.outbox.send({ remoteId: 'bad-1', roomId: '!o6:hs', senderRemoteId: 'eve', type: 'm.bad', content: { body: 'x' } })).rejects.toThrow(/content is not valid/);
    expect(hs.sent.filter((s) => s.roomId === '!o6:hs')).toHaveLength(2);
    const counter = await metrics.getSingleMetric('patchbay_dead_letters_total')?.get();
    expect(counter?.values.find((v) => v.labels.direction === 'to_matrix')?.value).toBe(1);
  });

  it('dead-letters after the configured tries when the homeserver keeps failing', async () => {
    hs.addRoom('!o7:hs', [BOT]);
    let calls = 0;
    hs.interceptors.push((r) => (r.path.includes('/rooms/!o7:hs/send/m.room.message/pbo_') ? (calls++, { status: 503, body: { errcode: 'M_UNKNOWN', error: 'overloaded' } }) : undefined));
    await expect(ctx.outbox.send({ remoteId: 'down-1', roomId: '!o7:hs', senderRemoteId: null, type: UNTYPED_MESSAGE, content: { body: 'x' } })).rejects.toThrow(/overloaded/);
    expect(calls).toBe(3 * 2); // 3 outbox tries x (1 + 1 client retry)
  });

  it('sends a message without a sender as a member ghost where the bot is not in the room, and its dead-letter notice too', async () => {
    hs.addRoom('!dm:hs', ['@alice:hs'], { inviteOnly: true });
    hs.invited.set('!dm:hs', new Set(['@net_eve:hs']));
    await (await ctx.ghosts.intent('eve')).join('!dm:hs');
    const eventId = await ctx.outbox.send({ remoteId: 'note-1', roomId: '!dm:hs', senderRemoteId: null, type: 'm.room.message', content: { msgtype: 'm.notice', body: 'Linked.' } });
    expect(hs.sent.find((s) => s.eventId === eventId)?.sender).toBe('@net_eve:hs');
    expect(hs.members.get('!dm:hs')?.has(BOT)).toBe(false);
    hs.interceptors.push((r) => (r.path.includes('/rooms/!dm:hs/send/m.bad') ? { status: 400, body: { errcode: 'M_BAD_JSON', error: 'content is not valid' } } : undefined));
    await expect(ctx.outbox.send({ remoteId: 'bad-2', roomId: '!dm:hs', senderRemoteId: null, type: 'm.bad', content: { body: 'x' } })).rejects.toThrow();
    // The dead-letter notice follows the rejection of send().
    const notice = await waitFor(() => hs.sent.find((s) => s.roomId === '!dm:hs' && String(s.content.body).startsWith('⚠️')), 10_000, 'the notice');
    expect(notice.sender).toBe('@net_eve:hs');
  });

  it('refuses malformed messages before queueing them', async () => {
    await expect(ctx.outbox.enqueue({ remoteId: '', roomId: '!o1:hs', senderRemoteId: null, type: UNTYPED_MESSAGE, content: {} })).rejects.toThrow(OutboundMessageError);
    await expect(ctx.outbox.enqueue({ remoteId: 'x', roomId: '#alias:hs', senderRemoteId: null, type: UNTYPED_MESSAGE, content: {} })).rejects.toThrow(/room id/);
    await expect(ctx.outbox.enqueue({ remoteId: 'x', roomId: '!o1:hs', senderRemoteId: null, type: UNTYPED_MESSAGE, content: {}, timestamp: -5 })).rejects.toThrow(/timestamp/);
  });

  it('refuses another host.outbox_partitions while messages queued under the old count wait', async () => {
    const hostWith = (partitions: number): PluginHost =>
      hostOf({
        plugins: [loadedPlugin('net', new RecordingPlugin({ protocol: 'net', ghostPrefix: 'net_', aliasPrefix: 'net_' }))],
        appserviceId: 'outbox-count-test',
        metrics: new Registry(),
        host: { outbox_partitions: partitions },
        outboxWorker: false,
      });
    const first = hostWith(3);
    await first.start();
    await first.bridge('net')!.context.outbox.enqueue({ remoteId: 'waiting-1', roomId: '!o1:hs', senderRemoteId: null, type: 'm.room.message', content: { msgtype: 'm.text', body: 'x' } });
    await first.stop();
    const changed = hostWith(5);
    const refused: unknown = await changed.start().catch((err: unknown) => err);
    await changed.stop();
    expect(refused).toBeInstanceOf(PartitionCountChangedError);
    expect((refused as Error).message).toMatch(/^host\.outbox_partitions is 5 but the queues in Redis were made with 3 and still hold 1 job/);
  });
});
